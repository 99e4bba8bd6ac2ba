""" "Customers changed": one report per transaction to the apps that keep something derived from
a customer's status, grade, owner or name (the follow-up plan).

Apps register a callback from ``AppConfig.ready()`` with ``on_customers_changed``; the customer
services call ``customers_changed(ids)`` for the customers they created or changed. The ids of
one transaction are collected and handed once to each callback after the commit (an import
batch of 1,000 customers is one call, not 1,000), and a rollback discards them: nothing is
reported for changes that did not happen. Bulk inserts, which send no ``post_save``, report
like single saves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import connection, transaction

CustomersChanged = Callable[[list[int]], None]

_callbacks: list[CustomersChanged] = []


def on_customers_changed(callback: CustomersChanged) -> None:
    """Call ``callback(sorted ids)`` after each commit that created or changed customers."""
    if callback not in _callbacks:
        _callbacks.append(callback)


class _Report:
    """One pending on-commit callback and the customers it will report."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.done = False

    def __call__(self) -> None:
        self.done = True
        if not self.ids:
            return
        ids = sorted(self.ids)
        for callback in list(_callbacks):
            callback(ids)


def _pending() -> _Report | None:
    # The report still waiting on this connection's commit, if any (a rollback discards it,
    # with the ids it collected).
    for entry in connection.run_on_commit:
        if isinstance(entry[1], _Report) and not entry[1].done:
            return entry[1]
    return None


def customers_changed(ids: Iterable[int]) -> None:
    """Report customers created or changed in the current transaction (at once outside one)."""
    if not _callbacks:
        return
    pending = _pending() if connection.in_atomic_block else None
    if pending is not None:
        pending.ids.update(ids)
        return
    report = _Report()
    report.ids.update(ids)
    transaction.on_commit(report)


CustomersMerged = Callable[[int, int], None]

_merge_callbacks: list[CustomersMerged] = []


def on_customers_merged(callback: CustomersMerged) -> None:
    """Call ``callback(survivor_id, merged_id)`` inside the transaction of each merge, before
    the merged customer is deleted: for rows that name a customer without a foreign key (an
    app's generic references, such as the integrations app's external ids), which the merge
    cannot find through the model's relations."""
    if callback not in _merge_callbacks:
        _merge_callbacks.append(callback)


def customers_merged(survivor_id: int, merged_id: int) -> None:
    for callback in list(_merge_callbacks):
        callback(survivor_id, merged_id)
