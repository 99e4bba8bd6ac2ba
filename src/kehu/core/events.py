"""Domain events: what happened to a record, told to other apps once the transaction commits.

The services call ``emit(name, instance_id, actor=..., data=...)`` beside their write (a customer
created, a deal won, a ticket closed). The events of one transaction are handed, in the order
they were emitted, to every listener registered with ``on_events`` after the commit, in one
call; a rolled-back transaction (or a rolled-back savepoint) discards its own events, so nothing
is told about changes that did not happen. Outside a transaction an event is told at once.

Listeners run after the commit, in the request or job that wrote: they must be quick (the
webhooks app only queues a job) and must not raise (an error is logged, never undoes the
write). ``NAMES`` is the catalogue of event names; ``emit`` refuses a name not in it, so a
typo fails in the tests, not silently in production.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import pgettext_lazy

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

logger = logging.getLogger(__name__)

# name -> label; the first part names the kind of record ``instance_id`` is the id of. The
# labels have their own context: "Customer created" is also a history reason (创建客户).
NAMES: dict[str, _StrPromise] = {
    "customer.created": pgettext_lazy("event", "Customer created"),
    "customer.updated": pgettext_lazy("event", "Customer updated"),
    "customer.merged": pgettext_lazy("event", "Customers merged"),
    "customer.reassigned": pgettext_lazy("event", "Customer reassigned"),
    "lead.captured": pgettext_lazy("event", "Lead captured"),
    "lead.converted": pgettext_lazy("event", "Lead converted"),
    "opportunity.stage_changed": pgettext_lazy("event", "Deal stage changed"),
    "opportunity.won": pgettext_lazy("event", "Deal won"),
    "opportunity.lost": pgettext_lazy("event", "Deal lost"),
    "followup.recorded": pgettext_lazy("event", "Follow-up recorded"),
    "ticket.created": pgettext_lazy("event", "Ticket created"),
    "ticket.updated": pgettext_lazy("event", "Ticket updated"),
    "ticket.resolved": pgettext_lazy("event", "Ticket resolved"),
    "ticket.closed": pgettext_lazy("event", "Ticket closed"),
}


@dataclass(frozen=True)
class Event:
    """One thing that happened; ``id`` is unique (receivers de-duplicate on it)."""

    name: str
    instance_id: int
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=timezone.now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "instance_id": self.instance_id,
            "actor_id": self.actor_id,
            "data": self.data,
            "occurred_at": self.occurred_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(
            name=raw["name"],
            instance_id=int(raw["instance_id"]),
            actor_id=raw.get("actor_id"),
            data=dict(raw.get("data") or {}),
            id=raw["id"],
            occurred_at=datetime.fromisoformat(raw["occurred_at"]),
        )


Listener = Callable[[list[Event]], None]
Interest = Callable[[], bool]

_listeners: list[Listener] = []
_interests: list[Interest] = []


def on_events(listener: Listener, *, wants: Interest | None = None) -> None:
    """Call ``listener(events)`` after each commit that emitted events. ``wants`` (cheap,
    cached) tells whether the listener cares at all right now; when no listener does, ``emit``
    registers nothing (no webhook configured: no cost in the writing transaction)."""
    if listener not in _listeners:
        _listeners.append(listener)
        _interests.append(wants or (lambda: True))


class _Marker:
    """The events of one savepoint level, waiting for the commit.

    Django drops the on-commit callbacks of a rolled-back savepoint, so each level's events
    ride on a callback of their own; when the callbacks run, the markers pool their events and
    the last one hands the whole transaction's events, in order, to the listeners at once.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.done = False

    def __call__(self) -> None:
        self.done = True
        # At a commit Django pops each callback before it runs it: what is left comes later.
        # (A test's captureOnCommitCallbacks runs them in place: look past this one only.)
        waiting = [entry[1] for entry in connection.run_on_commit]
        later = waiting[waiting.index(self) + 1 :] if self in waiting else waiting
        following = next(
            (other for other in later if isinstance(other, _Marker) and not other.done), None
        )
        if following is not None:
            # A later marker of this commit tells them all; the events ride on it, so they
            # share its fate (a marker that never runs takes them along, not into another
            # transaction's report).
            following.events[:0] = self.events
            return
        for listener in list(_listeners):
            try:
                listener(list(self.events))
            except Exception:  # a listener's failure must not look like a failed write
                logger.exception("event listener %r failed", listener)


def _pending() -> _Marker | None:
    # The last callback registered, if it is a marker of the current savepoint level.
    if not connection.run_on_commit:
        return None
    savepoints, callback = connection.run_on_commit[-1][:2]
    same_level = list(savepoints) == list(connection.savepoint_ids)
    if isinstance(callback, _Marker) and not callback.done and same_level:
        return callback
    return None


def _wanted() -> bool:
    return any(wants() for wants in _interests)


def emit(
    name: str,
    instance_id: int,
    *,
    actor: Any = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Tell the listeners, after the commit, that ``name`` happened to record ``instance_id``."""
    if name not in NAMES:
        raise ValueError(f"unknown event {name!r}: add it to kehu.core.events.NAMES")
    if _listeners and _wanted():
        _add([Event(name=name, instance_id=int(instance_id), actor_id=_id(actor), data=data or {})])


def emit_many(
    name: str,
    instance_ids: list[int],
    *,
    actor: Any = None,
    data: Mapping[int, dict[str, Any]] | None = None,
) -> None:
    """``emit`` for many records at once (a bulk create or update): one check, one marker.
    ``data``: each record's data by its id (none: empty)."""
    if name not in NAMES:
        raise ValueError(f"unknown event {name!r}: add it to kehu.core.events.NAMES")
    if instance_ids and _listeners and _wanted():
        actor_id = _id(actor)
        of = data or {}
        _add(
            [
                Event(name=name, instance_id=int(pk), actor_id=actor_id, data=of.get(pk) or {})
                for pk in instance_ids
            ]
        )


def _id(actor: Any) -> int | None:
    return getattr(actor, "pk", None)


def _add(new: list[Event]) -> None:
    marker = _pending() if connection.in_atomic_block else None
    if marker is None:
        marker = _Marker()
        marker.events.extend(new)
        transaction.on_commit(marker)
        return
    marker.events.extend(new)
