"""``kehu demo``: a realistic company and its data, from steps the apps register.

Each domain app registers its steps in ``AppConfig.ready()`` (like the dashboard's panels), so
core names no app: accounts makes the users, customers the customers, opportunities the deals,
followups the follow-ups and tasks. Steps run in ``order``. A step marked ``bulk`` runs inside
the contexts registered with ``register_bulk_context`` (customers defers its indexes while the
first big load and the deals that mark customers won are written).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DemoRun:
    """What a ``kehu demo`` run asked for, and what its steps made for the later ones."""

    customers: int
    seed: int
    users: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class DemoStep:
    key: str
    order: int
    run: Callable[[DemoRun], str]  # what it made, for the report ("12 customers")
    bulk: bool = False
    has_data: Callable[[], bool] | None = None  # for --if-empty: this step's data is there


_steps: dict[str, DemoStep] = {}
BulkContext = Callable[[DemoRun], contextlib.AbstractContextManager[Any]]
_bulk_contexts: list[BulkContext] = []


def register(step: DemoStep) -> DemoStep:
    _steps[step.key] = step
    return step


def register_bulk_context(factory: BulkContext) -> None:
    if factory not in _bulk_contexts:
        _bulk_contexts.append(factory)


def load_demo(*, customers: int, seed: int, if_empty: bool = False) -> str:
    started = time.perf_counter()
    run = DemoRun(customers=customers, seed=seed)
    steps = sorted(_steps.values(), key=lambda step: step.order)
    first, rest = steps[:1], steps[1:]
    made = [step.run(run) for step in first]  # the users: always ensured
    if if_empty and any(step.has_data and step.has_data() for step in rest):
        return "Demo data already present; nothing loaded."
    with contextlib.ExitStack() as stack:
        for factory in _bulk_contexts:
            stack.enter_context(factory(run))
        made += [step.run(run) for step in rest if step.bulk]
    made += [step.run(run) for step in rest if not step.bulk]
    seconds = time.perf_counter() - started
    return f"Demo loaded in {seconds:.1f}s: " + "; ".join(made)
