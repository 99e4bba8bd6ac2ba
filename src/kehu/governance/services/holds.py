"""Legal hold (法律保全): whether a customer may be destroyed.

The destruction engine asks ``is_held`` / ``held_ids`` before it removes anything. The hold
records themselves belong to the retention workflow (``governance.models.LegalHold``); until
that model exists the answer comes from the checks registered here, so the engine's refusal is
testable on its own. A check takes customer ids and returns those under hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

HoldCheck = Callable[[list[int]], Iterable[int]]

_checks: list[HoldCheck] = []


def register(check: HoldCheck) -> HoldCheck:
    """Add a check (usable as a decorator); registering the same function twice is a no-op."""
    if check not in _checks:
        _checks.append(check)
    return check


def unregister(check: HoldCheck) -> None:
    if check in _checks:
        _checks.remove(check)


def held_ids(customer_ids: Iterable[int]) -> set[int]:
    """The ids among ``customer_ids`` that are under legal hold."""
    ids = sorted({int(pk) for pk in customer_ids})
    held: set[int] = set()
    if not ids:
        return held
    for check in list(_checks):
        held.update(int(pk) for pk in check(ids))
    return held & set(ids)


def is_held(customer_id: int) -> bool:
    return bool(held_ids([customer_id]))
