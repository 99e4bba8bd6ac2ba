"""What a webhook delivery says about the record of an event: the record as the API shows it
to the subscription's ``run_as`` user (scope and masking included), read in a fixed number of
queries per kind of record and batch of events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from kehu.accounts.models import User
from kehu.core.context import read_only_request
from kehu.customers import selectors as customer_selectors
from kehu.customers.api import contact_data, customer_data
from kehu.customers.models import Customer
from kehu.followups.api import FollowUpOut
from kehu.followups.models import FollowUp
from kehu.leads.api import lead_out
from kehu.leads.models import Lead
from kehu.opportunities.api import opportunity_out
from kehu.opportunities.models import Opportunity
from kehu.service.api.tickets import ticket_out
from kehu.service.models import Ticket

Loader = Callable[[User, list[int]], dict[int, dict[str, Any]]]


def _customers(user: User, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = (
        Customer.objects.visible_to(user)
        .filter(pk__in=ids)
        .select_related("owner")
        .prefetch_related("tags", "contacts")
    )
    found: dict[int, dict[str, Any]] = {}
    for customer in rows:
        data = customer_data(user, customer)
        masked = customer_selectors.contacts_masked(user, customer)
        data["contacts"] = [
            contact_data(user, contact, masked=masked) for contact in customer.contacts.all()
        ]
        found[customer.pk] = data
    return found


def _leads(user: User, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = (
        Lead.objects.visible_to(user)
        .filter(pk__in=ids)
        .select_related("region", "industry", "assignee")
    )
    return {lead.pk: lead_out(lead, user) for lead in rows}


def _opportunities(user: User, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = (
        Opportunity.objects.visible_to(user)
        .filter(pk__in=ids)
        .select_related("stage", "customer", "owner", "loss_reason")
    )
    request: Any = SimpleNamespace(user=user)  # opportunity_out reads only request.user
    return {deal.pk: opportunity_out(request, deal) for deal in rows}


def _followups(user: User, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = (
        FollowUp.objects.visible_to(user)
        .filter(pk__in=ids)
        .select_related("related_type")
        .prefetch_related("attachments")
    )
    return {row.pk: FollowUpOut.from_orm(row).dict() for row in rows}


def _tickets(user: User, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = (
        Ticket.objects.visible_to(user)
        .filter(pk__in=ids)
        .select_related("customer", "assignee", "sla_policy")
    )
    return {ticket.pk: ticket_out(ticket, user=user) for ticket in rows}


LOADERS: dict[str, Loader] = {
    "customer": _customers,
    "lead": _leads,
    "opportunity": _opportunities,
    "followup": _followups,
    "ticket": _tickets,
}


def kind_of(event_name: str) -> str:
    return event_name.split(".", 1)[0]


def records_as_seen(user: User, kind: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The records of ``kind`` among ``ids`` that ``user`` sees, as the API shows them."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    # only reads: the custom fields' definitions and the user's grants are read once, not
    # once per record
    with read_only_request():
        return LOADERS[kind](user, wanted)
