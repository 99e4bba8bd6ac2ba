"""Tickets for the bench volumes (about one per customer: 1,000,000 at size L), on loaded customers.

Written like the customers (``kehu.core.bulk.TableWriter``: PostgreSQL ``COPY``, SQLite
``executemany``), 20,000 per transaction, consistent with what the service app keeps:

* a service centre (``SERVICE_ORG``: 客服中心 with four teams, 36 agents) and its manager;
  ``bench.agent`` (一线支持组) is given one of the biggest shares of the tickets (the worst
  case for "my open tickets"), ``bench.service_manager`` manages 客服中心 (every ticket);
* tickets are written in the order raised (ids grow with time, as in the app), over the last
  two years, more of them recently; each goes to a customer that existed then, drawn by
  status (won customers raise most); a ticket's department is its agent's team (new,
  unassigned ones: 一线支持组);
* statuses follow age: tickets of the last ten days are in every state of the flow, older
  ones resolved or closed, a few still open long past their due time; the SLA due times are
  the default policy's per priority on the wall clock (high 1 h / 8 h, medium 2 h / 24 h,
  low 4 h / 48 h), first response and resolution recorded with their minutes, breaches
  marked where a time passed its due time, paused ones waiting for the customer;
* numbers are ``T`` + the day raised + a sequence per day, reserved through
  ``NumberSequence`` like the app's;
* messages are sparse: one ticket in five carries the customer's first message and, once
  answered, the reply; three in ten closed tickets carry a satisfaction score and its answered
  survey.

Events and history rows are not written (as for the loaded customers).
"""

from __future__ import annotations

import math
import random
import secrets
import time
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from django.db import transaction
from django.utils import timezone

from bench.loader import _next_id, settle
from bench.loader import _reset_sequences as reset_sequences
from kehu.accounts.models import Department, Role, User
from kehu.core.bulk import TableWriter, deferred_indexes
from kehu.customers import numbering
from kehu.customers.models import Customer
from kehu.service import demo_tickets as service_demo
from kehu.service.models import (
    MessageKind,
    Survey,
    Ticket,
    TicketChannel,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)

CHUNK = 20_000
DROP_INDEXES_FROM = 200_000
SERVICE_CENTRE = "客服中心"
SERVICE_ORG: dict[str, int] = {
    "一线支持组": 16,
    "技术支持组": 10,
    "投诉处理组": 4,
    "大客户服务组": 6,
}
AGENT_TEAM = "一线支持组"
HISTORY_DAYS = 730
RECENT_DAYS = 10
# (respond, resolve) minutes per priority: the policies' defaults
DUE_MINUTES = {
    TicketPriority.HIGH: (60, 8 * 60),
    TicketPriority.MEDIUM: (120, 24 * 60),
    TicketPriority.LOW: (240, 48 * 60),
}
CUSTOMER_WEIGHT = {"potential": 0.2, "intent": 0.5, "won": 3.0, "churned": 1.5}
RECENT_STATES = (
    (TicketStatus.NEW, 5),
    (TicketStatus.ASSIGNED, 10),
    (TicketStatus.IN_PROGRESS, 35),
    (TicketStatus.WAITING, 15),
    (TicketStatus.RESOLVED, 20),
    (TicketStatus.CLOSED, 15),
)
STUCK_OPEN = 0.003  # older tickets still open (long breached)
MESSAGE_SHARE = 0.2
SCORED_SHARE = 0.3

TICKET_COLUMNS = (
    "id", "created_at", "updated_at", "version", "number", "customer_id", "requester_name",
    "requester_email", "subject", "content", "ticket_type", "priority", "product", "status",
    "channel", "raised_at", "department_id", "assignee_id", "promised_response_at",
    "promised_resolution_at", "response_due_at", "resolution_due_at", "paused_at",
    "first_response_at", "resolved_at", "closed_at", "response_minutes",
    "resolution_minutes", "response_breached_at", "resolution_breached_at", "satisfaction",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "id", "ticket_id", "kind", "author_id", "sender", "body", "email_message_id", "sent_at",
    "created_at",
)  # fmt: skip
SURVEY_COLUMNS = (
    "id", "ticket_id", "customer_id", "nonce", "sent_to", "sent_at", "expires_at",
    "answered_at", "score", "comment",
)  # fmt: skip


@dataclass
class TicketReport:
    tickets: int = 0
    messages: int = 0
    surveys: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def ensure_service_org(*, rng: random.Random, pinned: list[User]) -> list[User]:
    """客服中心, its teams and agents (idempotent); returns the agents, ``pinned`` first."""
    from kehu.accounts import services as accounts
    from kehu.customers.demo import GIVEN, SURNAMES

    agents: list[User] = list(pinned)
    for team, head_count in SERVICE_ORG.items():
        department = accounts.department_get_or_create_path([SERVICE_CENTRE, team])
        existing = list(
            User.objects.filter(
                department=department, role=Role.SERVICE, username__startswith="agent."
            ).order_by("username")
        )
        for index in range(len(existing), head_count):
            existing.append(
                accounts.user_create(
                    username=f"agent.{team_slug(team)}.{index:02d}",
                    role=Role.SERVICE,
                    department=department,
                    display_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                )
            )
        agents.extend(user for user in existing if user not in pinned)
    return agents


def team_slug(name: str) -> str:
    from kehu.customers.normalize import pinyin_keys

    return pinyin_keys(name)[1]


def load_tickets(*, tickets: int, agents: list[User], seed: int) -> TicketReport:
    """Top the database up to ``tickets`` tickets, spread over ``agents`` (the first: pinned).

    Tickets are written in the order they were raised, so their ids grow with time as in a
    database the app filled (the newest ids hold the open tickets, which "newest first" lists
    of open tickets meet first); each goes to a customer drawn by weight.
    """
    started = time.perf_counter()
    report = TicketReport()
    need = max(0, tickets - Ticket.objects.count())
    if not need or not agents:
        return report
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(agents) - 1)]
    rng.shuffle(weights)
    agent_weights = list(accumulate([max(weights, default=1.0) * 1.2, *weights]))
    first_line = Department.objects.filter(name=AGENT_TEAM, path__contains=SERVICE_CENTRE).first()
    triage_department = first_line.pk if first_line else agents[0].department_id
    customers = _Customers.read()
    if not customers.ids:
        return report
    now = timezone.now()
    span = HISTORY_DAYS * 86400.0
    # when each ticket was raised, oldest first (more of them recently)
    moments = sorted(span * rng.random() ** 1.15 for _n in range(need))[::-1]
    writers = {
        "tickets": TableWriter(Ticket, TICKET_COLUMNS),
        "messages": TableWriter(TicketMessage, MESSAGE_COLUMNS),
        "surveys": TableWriter(Survey, SURVEY_COLUMNS),
    }
    models_ = [Ticket, TicketMessage, Survey]
    with deferred_indexes(*models_, defer=need >= DROP_INDEXES_FROM, atomic=False):
        ids = {"ticket": _next_id(Ticket), "message": _next_id(TicketMessage)}
        ids["survey"] = _next_id(Survey)
        for first in range(0, need, CHUNK):
            raised = [now - timedelta(seconds=ago) for ago in moments[first : first + CHUNK]]
            with transaction.atomic():
                rows = _rows(
                    rng, raised, customers, agents, agent_weights, triage_department, ids, now
                )
                for name, writer in writers.items():
                    writer.write(rows[name])
            report.tickets += len(rows["tickets"])
            report.messages += len(rows["messages"])
            report.surveys += len(rows["surveys"])
            elapsed = time.perf_counter() - started
            print(
                f"  loaded {report.tickets:,} tickets ({report.tickets / elapsed:,.0f} tickets/s)",
                flush=True,
            )
        reset_sequences(models_)
    settle()
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _Customers:
    """Every customer's id and creation time, and the cumulative weights to draw them by."""

    ids: array[int]
    created: array[float]
    cumulative: array[float]

    @classmethod
    def read(cls) -> _Customers:
        ids, created, cumulative = array("q"), array("d"), array("d")
        total = 0.0
        rows = Customer.objects.order_by("pk").values_list("pk", "status", "created_at")
        for pk, status, created_at in rows.iterator(chunk_size=CHUNK):
            ids.append(pk)
            created.append(created_at.timestamp())
            total += CUSTOMER_WEIGHT.get(status, 1.0)
            cumulative.append(total)
        return cls(ids, created, cumulative)

    def draw(self, rng: random.Random, raised: datetime) -> int:
        """A customer that existed when the ticket was raised (a few draws, then any)."""
        moment = raised.timestamp()
        index = 0
        for _attempt in range(5):
            index = bisect_left(self.cumulative, rng.random() * self.cumulative[-1])
            if self.created[index] <= moment:
                break
        return self.ids[index]


def _rows(
    rng: random.Random,
    raised: list[datetime],
    customers: _Customers,
    agents: list[User],
    agent_weights: list[float],
    triage_department: int | None,
    ids: dict[str, int],
    now: datetime,
) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"tickets": [], "messages": [], "surveys": []}
    drafts: list[tuple[list[Any], str]] = []
    for moment in raised:
        customer_id = customers.draw(rng, moment)
        drafts.append(
            _ticket(
                rng, customer_id, moment, now, agents, agent_weights, triage_department, ids, out
            )
        )
    days: dict[str, list[list[Any]]] = {}
    for values, prefix in drafts:
        days.setdefault(prefix, []).append(values)
    # the sequence key of the ticket services (services.tickets.next_number)
    firsts = numbering.reserve_many({f"ticket:{day}": len(rows) for day, rows in days.items()})
    number = TICKET_COLUMNS.index("number")
    for prefix, rows in days.items():
        for offset, values in enumerate(rows):
            values[number] = f"{prefix}{firsts[f'ticket:{prefix}'] + offset:04d}"
    out["tickets"] = [values for values, _prefix in drafts]
    return out


def _ticket(
    rng: random.Random,
    customer_id: int,
    raised: datetime,
    now: datetime,
    agents: list[User],
    agent_weights: list[float],
    triage_department: int | None,
    ids: dict[str, int],
    out: dict[str, list[Any]],
) -> tuple[list[Any], str]:
    recent = now - raised < timedelta(days=RECENT_DAYS)
    if recent:
        status = rng.choices([s for s, _w in RECENT_STATES], [w for _s, w in RECENT_STATES])[0]
    elif rng.random() < STUCK_OPEN:
        status = TicketStatus.IN_PROGRESS
    else:
        status = TicketStatus.CLOSED if rng.random() < 0.95 else TicketStatus.RESOLVED
    ticket_type = rng.choice(list(service_demo.REQUESTS))
    subject, content = rng.choice(service_demo.REQUESTS[ticket_type])
    priority = rng.choices(list(TicketPriority), weights=[2, 5, 3])[0]
    respond, resolve = DUE_MINUTES[priority]
    response_due = raised + timedelta(minutes=respond)
    resolution_due = raised + timedelta(minutes=resolve)
    agent = None
    department = triage_department
    if status != TicketStatus.NEW:
        agent = agents[bisect_left(agent_weights, rng.random() * agent_weights[-1])]
        department = agent.department_id
    first_response = resolved = closed = paused = None
    response_minutes = resolution_minutes = satisfaction = None
    latest = now - timedelta(minutes=1)
    if status not in (TicketStatus.NEW, TicketStatus.ASSIGNED):
        taken = rng.lognormvariate(math.log(respond * 0.5), 0.8)
        first_response = min(raised + timedelta(minutes=taken), latest)
        response_minutes = max(0, int((first_response - raised).total_seconds() // 60))
    if status == TicketStatus.WAITING:
        assert first_response is not None
        paused = min(first_response + timedelta(minutes=rng.randint(5, 600)), latest)
    if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        assert first_response is not None
        taken = rng.lognormvariate(math.log(resolve * 0.4), 0.7)
        resolved = min(max(raised + timedelta(minutes=taken), first_response), latest)
        resolution_minutes = max(0, int((resolved - raised).total_seconds() // 60))
        if status == TicketStatus.CLOSED:
            closed = min(resolved + timedelta(hours=rng.randint(2, 72)), now)
    response_breached = None
    if (first_response or now) > response_due:
        response_breached = response_due
    resolution_breached = None
    if paused is None and (resolved or now) > resolution_due:
        resolution_breached = resolution_due
    sender = f"kefu{customer_id}@example.cn"
    ticket_id = ids["ticket"]
    ids["ticket"] += 1
    if closed is not None and rng.random() < SCORED_SHARE:
        assert resolved is not None
        satisfaction = rng.choices([5, 4, 3, 2, 1], weights=[45, 30, 13, 8, 4])[0]
        answered = min(resolved + timedelta(hours=rng.randint(1, 48)), now)
        out["surveys"].append(
            (
                ids["survey"], ticket_id, customer_id, secrets.token_hex(16), sender, resolved,
                resolved + timedelta(days=7), answered, satisfaction, "",
            )
        )  # fmt: skip
        ids["survey"] += 1
    if rng.random() < MESSAGE_SHARE:
        out["messages"].append(
            (
                ids["message"],
                ticket_id,
                MessageKind.INBOUND.value,
                None,
                sender,
                content,
                "",
                None,
                raised,
            )
        )
        ids["message"] += 1
        if first_response is not None and agent is not None:
            reply = rng.choice(service_demo.REPLIES)
            out["messages"].append(
                (
                    ids["message"], ticket_id, MessageKind.REPLY.value, agent.pk, "", reply,
                    f"<bench.{ticket_id}@kehu.local>", first_response, first_response,
                )
            )  # fmt: skip
            ids["message"] += 1
    updated = closed or resolved or paused or first_response or raised
    values = [
        ticket_id, raised, updated, 1, "", customer_id, "", sender, subject, content,
        str(ticket_type), priority.value, rng.choice(service_demo.PRODUCTS), status.value,
        rng.choice([TicketChannel.EMAIL, TicketChannel.EMAIL, TicketChannel.UI]).value, raised,
        department, agent.pk if agent else None, response_due, resolution_due, response_due,
        resolution_due, paused, first_response, resolved, closed, response_minutes,
        resolution_minutes, response_breached, resolution_breached, satisfaction,
    ]  # fmt: skip
    return values, f"T{timezone.localtime(raised):%y%m%d}"
