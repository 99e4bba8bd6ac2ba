"""Who may reach each ticket URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The ticket belongs to a customer of 上海组's rep and is assigned to the service user (who was
handed the customer): the service user and the admin work on it; the rep (customer owner) and
the east manager (the customer's department) read it but may not change it (403); a rep of
another region, the south manager, the rep's colleague and marketing do not see it (404).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.service.models import TicketChannel
from kehu.service.services import tickets as services
from kehu.service.tests.tickets_support import hand_over, make_customer

VIEWERS = ("service", "rep", "east_manager", "admin")
OTHERS = ("south_rep", "south_manager", "colleague", "marketing")
WRITE: Roles = {
    "may": ("service", "admin"),
    "may_not": ("rep", "east_manager"),
    "out_of_scope": OTHERS,
}
READ: Roles = {"may": VIEWERS, "out_of_scope": OTHERS}


def ticket(org: Organisation, *, resolved: bool = False) -> dict[str, Any]:
    customer, contact = make_customer(org.rep)
    hand_over(customer, org.rep, org.service)

    def raise_one(subject: str) -> Any:
        return services.ticket_create(
            actor=None,
            data={"subject": subject, "content": "设备无法启动", "assignee": org.service.pk},
            channel=TicketChannel.EMAIL,
            customer=customer,
            contact=contact,
        )

    row = raise_one("设备故障")
    other = raise_one("设备故障（重复）")
    if resolved:
        row = services.ticket_set_status(actor=org.service, ticket=row, status="resolved")
    return {"ticket_id": row.pk, "_ticket": row, "_other": other, "_customer": customer}


def resolved_ticket(org: Organisation) -> dict[str, Any]:
    return ticket(org, resolved=True)


def later() -> str:
    return (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")


TABLE = [
    # --- API ---
    Endpoint("GET /tickets/{ticket_id}", ticket, **READ),
    Endpoint("GET /tickets/{ticket_id}/messages", ticket, **READ),
    Endpoint("GET /tickets/{ticket_id}/events", ticket, **READ),
    Endpoint(
        "PATCH /tickets/{ticket_id}",
        ticket,
        body=lambda org, made: {"version": made["_ticket"].version, "priority": "low"},
        **WRITE,
    ),
    Endpoint(
        "POST /tickets/{ticket_id}/assign",
        ticket,
        body=lambda org, made: {"assignee_id": org.admin.pk},
        **WRITE,
    ),
    Endpoint("POST /tickets/{ticket_id}/status", ticket, body={"status": "in_progress"}, **WRITE),
    Endpoint("POST /tickets/{ticket_id}/reopen", resolved_ticket, body={"reason": "x"}, **WRITE),
    Endpoint("POST /tickets/{ticket_id}/reply", ticket, body={"body": "您好"}, status=201, **WRITE),
    Endpoint("POST /tickets/{ticket_id}/note", ticket, body={"body": "备注"}, status=201, **WRITE),
    Endpoint(
        "POST /tickets/{ticket_id}/merge",
        ticket,
        body=lambda org, made: {"into_id": made["_other"].pk},
        **WRITE,
    ),
    Endpoint(
        "POST /tickets/{ticket_id}/replan",
        ticket,
        body=lambda org, made: {"reason": "备件延误", "promised_resolution_at": later()},
        **WRITE,
    ),
    Endpoint(
        "POST /tickets/{ticket_id}/link-customer",
        ticket,
        body=lambda org, made: {"customer_id": made["_customer"].pk},
        **WRITE,
    ),
    # --- UI ---
    Endpoint("GET service:ticket_detail", ticket, **READ),
    Endpoint(
        "POST service:ticket_edit",
        ticket,
        body={
            "subject": "泵漏水",
            "content": "三号泵漏水",
            "ticket_type": "support",
            "priority": "high",
        },
        **WRITE,
    ),
    Endpoint(
        "POST service:ticket_assign",
        ticket,
        body=lambda org, made: {"assignee": org.admin.pk},
        **WRITE,
    ),
    Endpoint("POST service:ticket_status", ticket, body={"status": "in_progress"}, **WRITE),
    Endpoint("POST service:ticket_reopen", resolved_ticket, body={"reason": "x"}, **WRITE),
    Endpoint("POST service:ticket_reply", ticket, body={"body": "您好"}, **WRITE),
    Endpoint("POST service:ticket_note", ticket, body={"body": "备注"}, **WRITE),
    Endpoint(
        "POST service:ticket_merge",
        ticket,
        body=lambda org, made: {"into": made["_other"].number},
        **WRITE,
    ),
    Endpoint(
        "POST service:ticket_replan",
        ticket,
        body=lambda org, made: {"reason": "备件延误", "promised_resolution_at": later()},
        **WRITE,
    ),
    Endpoint(
        "POST service:ticket_link",
        ticket,
        body=lambda org, made: {"customer": made["_customer"].pk},
        **WRITE,
    ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
