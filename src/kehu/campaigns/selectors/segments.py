"""PLACEHOLDER of area A's segment selectors (the interface only, static lists only).

Area A (segments) owns this module and replaces it whole: keep A's version when merging.
It exists on the campaigns-core branch so the members service and its tests run against the
agreed interface: ``segment_rows``, ``segment_count``, ``segment_people``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kehu.campaigns.models import Segment, SegmentKind, SegmentTarget
from kehu.core.errors import InvalidInput
from kehu.customers.models import Contact, Customer
from kehu.leads.models import Lead


def segment_rows(segment: Segment, user: Any) -> QuerySet[Any]:
    """The target model's rows of the segment, scoped by ``visible_to(user)``."""
    if segment.kind != SegmentKind.STATIC:
        raise InvalidInput(errors={"conditions": [_("Conditions are not evaluated here.")]})
    entries = segment.entries.all()
    if segment.target == SegmentTarget.CUSTOMERS:
        return Customer.objects.visible_to(user).filter(
            pk__in=entries.filter(customer__isnull=False).values("customer_id")
        )
    if segment.target == SegmentTarget.CONTACTS:
        return Contact.objects.filter(
            pk__in=entries.filter(contact__isnull=False).values("contact_id"),
            customer__in=Customer.objects.visible_to(user).values("pk"),
        )
    return Lead.objects.visible_to(user).filter(
        pk__in=entries.filter(lead__isnull=False).values("lead_id")
    )


def segment_count(segment: Segment, user: Any) -> int:
    return segment_rows(segment, user).count()


def segment_people(
    segment: Segment, user: Any, *, primary_only: bool = False
) -> tuple[QuerySet[Contact], QuerySet[Lead]]:
    """(contacts, leads) of the segment: a customers segment gives its customers' active
    contacts (or only the primary ones)."""
    rows = segment_rows(segment, user)
    if segment.target == SegmentTarget.LEADS:
        return Contact.objects.none(), rows
    if segment.target == SegmentTarget.CONTACTS:
        return rows.filter(is_active=True), Lead.objects.none()
    contacts = Contact.objects.filter(customer__in=rows.values("pk"), is_active=True)
    if primary_only:
        contacts = contacts.filter(is_primary=True)
    return contacts, Lead.objects.none()
