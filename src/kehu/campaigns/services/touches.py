"""Touches: a campaign reaching a person (added, message sent, response, lead captured,
unsubscribed). Attribution reads them (first and last touch) and the customer timeline shows
them.

``record`` writes one, ``record_many`` many in one bulk insert (a send of 100,000 messages).
A touch's ``customer`` is filled from its contact's customer or its converted lead's customer
when the caller did not give it, and ``lead_converted`` fills it on the lead's older touches
when the lead becomes a customer (a ``kehu.leads.hooks.on_lead_converted`` callback).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from kehu.campaigns.models import Campaign, CampaignMember, Touch, TouchKind
from kehu.customers.models import Contact
from kehu.leads.models import Lead

BATCH = 2000


def record(
    campaign: Campaign | int,
    kind: str,
    *,
    contact: Contact | None = None,
    lead: Lead | None = None,
    customer: Any = None,
    at: datetime | None = None,
    detail: str = "",
) -> Touch:
    """One touch of ``campaign`` (an instance or its id) on a contact, a lead or a customer."""
    if kind not in TouchKind.values:
        raise ValueError(f"unknown touch kind {kind!r}")
    campaign_id = campaign if isinstance(campaign, int) else campaign.pk
    touch = Touch(
        campaign_id=campaign_id,
        kind=kind,
        at=at or timezone.now(),
        contact=contact,
        lead=lead,
        customer=customer,
        detail=detail[:300],
    )
    record_many([touch])
    return touch


def _fill_customers(rows: list[Touch]) -> None:
    """Give each touch without a customer its contact's or converted lead's customer, in two
    queries at most whatever the number of rows."""
    contact_ids = {row.contact_id for row in rows if row.customer_id is None and row.contact_id}
    lead_ids = {
        row.lead_id
        for row in rows
        if row.customer_id is None and row.contact_id is None and row.lead_id
    }
    by_contact: dict[int, int] = {}
    by_lead: dict[int, int] = {}
    if contact_ids:
        by_contact = dict(
            Contact.objects.filter(pk__in=contact_ids).values_list("pk", "customer_id")
        )
    if lead_ids:
        by_lead = dict(
            Lead.objects.filter(pk__in=lead_ids, customer__isnull=False).values_list(
                "pk", "customer_id"
            )
        )
    for row in rows:
        if row.customer_id is not None:
            continue
        if row.contact_id:
            row.customer_id = by_contact.get(row.contact_id)
        elif row.lead_id:
            row.customer_id = by_lead.get(row.lead_id)


@transaction.atomic
def record_many(rows: list[Touch]) -> list[Touch]:
    """Insert many touches at once (``bulk_create`` in batches of 2,000), customers filled.

    Touches never change afterwards except for the customer of a lead that converts.
    """
    if not rows:
        return rows
    for row in rows:
        if row.at is None:
            row.at = timezone.now()
        row.detail = (row.detail or "")[:300]
    _fill_customers(rows)
    Touch.objects.bulk_create(rows, batch_size=BATCH)
    return rows


def touches_of_members(
    members: Iterable[CampaignMember], kind: str, *, at: datetime | None = None, detail: str = ""
) -> list[Touch]:
    """Unsaved touches of ``kind`` for members (their contact or lead and customer)."""
    when = at or timezone.now()
    return [
        Touch(
            campaign_id=member.campaign_id,
            kind=kind,
            at=when,
            contact_id=member.contact_id,
            lead_id=member.lead_id,
            customer_id=member.customer_id,
            detail=detail,
        )
        for member in members
    ]


def lead_converted(lead: Lead) -> None:
    """A lead became (or joined) a customer: its touches and memberships gain the customer."""
    if lead.customer_id is None:
        return
    with transaction.atomic():
        Touch.objects.filter(lead_id=lead.pk, customer__isnull=True).update(
            customer_id=lead.customer_id
        )
        CampaignMember.objects.filter(lead_id=lead.pk, customer__isnull=True).update(
            customer_id=lead.customer_id
        )
