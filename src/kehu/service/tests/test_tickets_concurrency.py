"""Parallel writers on PostgreSQL: numbers never collide; one reply per version wins."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from kehu.core.errors import StaleVersion
from kehu.core.testing.factories import Organisation
from kehu.service.models import MessageKind, Ticket, TicketChannel
from kehu.service.services import tickets as services
from kehu.service.tests.tickets_support import make_desk, raise_ticket

THREADS = 6

pytestmark = pytest.mark.django_db(transaction=True)


def needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite serialises all writers on one database lock, so there is no race to "
            "test; run with KEHU_DATABASE_URL=postgresql://… to exercise the row locks"
        )


def in_parallel(work: Callable[[int], str]) -> list[str]:
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            result = work(index)
        except StaleVersion:
            result = "stale"
        except BaseException as error:  # reported by the assertions
            result = repr(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_parallel_creations_get_distinct_numbers(org: Organisation) -> None:
    needs_postgres()
    make_desk(org)

    def create(index: int) -> str:
        ticket = services.ticket_create(
            actor=None,
            data={"subject": f"并发 {index}", "content": "x"},
            channel=TicketChannel.EMAIL,
            requester_email=f"c{index}@example.cn",
        )
        return ticket.number

    numbers = in_parallel(create)
    assert all(number.startswith("T") for number in numbers), numbers
    assert len(set(numbers)) == THREADS
    assert Ticket.objects.count() == THREADS


def test_parallel_replies_with_one_version_let_one_through(org: Organisation) -> None:
    needs_postgres()
    desk = make_desk(org)
    ticket = raise_ticket(desk)

    def reply(index: int) -> str:
        services.ticket_reply(
            actor=desk.agent,
            ticket=Ticket.objects.get(pk=ticket.pk),
            body=f"回复 {index}",
            version=ticket.version,
        )
        return "sent"

    outcomes = in_parallel(reply)
    assert sorted(outcomes) == ["sent"] + ["stale"] * (THREADS - 1)
    assert ticket.messages.filter(kind=MessageKind.REPLY).count() == 1
