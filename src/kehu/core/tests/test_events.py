"""Domain events: told after the commit, in order, once per transaction and savepoint level;
nothing for what was rolled back; unknown names refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from kehu.core import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def told() -> Iterator[list[list[events.Event]]]:
    batches: list[list[events.Event]] = []
    listener = batches.append
    events.on_events(listener)
    try:
        yield batches
    finally:
        events._listeners.remove(listener)


def names(batches: list[list[events.Event]]) -> list[tuple[str, int]]:
    return [(event.name, event.instance_id) for batch in batches for event in batch]


def test_events_are_told_after_the_commit_in_one_batch(
    told: list[list[events.Event]], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.emit("customer.created", 1, data={"a": 1})
        events.emit("customer.updated", 1)
        assert told == []
    assert len(told) == 1
    assert names(told) == [("customer.created", 1), ("customer.updated", 1)]
    assert told[0][0].data == {"a": 1}
    assert told[0][0].id != told[0][1].id


def test_nothing_is_told_for_a_rollback(
    told: list[list[events.Event]], django_capture_on_commit_callbacks: Any
) -> None:
    def fail() -> None:
        with transaction.atomic():
            events.emit("lead.captured", 5)
            raise RuntimeError

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.emit("ticket.created", 1)
        with pytest.raises(RuntimeError):
            fail()
        events.emit("ticket.closed", 1)
    assert names(told) == [("ticket.created", 1), ("ticket.closed", 1)]


def test_an_event_survives_its_serialised_form() -> None:
    event = events.Event(name="opportunity.won", instance_id=3, actor_id=2, data={"x": "赢"})
    assert events.Event.from_dict(event.as_dict()) == event


def test_unknown_names_are_refused(told: list[list[events.Event]]) -> None:
    with pytest.raises(ValueError, match=r"customer\.deleted"):
        events.emit("customer.deleted", 1)
