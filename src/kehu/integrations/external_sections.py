"""The customer page's "External ids" card: the ids other systems (an ERP) give the customer,
its contacts and its deals, for administrators and the customer's owner (whoever maps
records between systems needs them; other viewers do not)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import Role
from kehu.core.access import is_admin
from kehu.customers.models import Contact
from kehu.customers.sections import Section
from kehu.integrations.models import ExternalId, ExternalKind
from kehu.opportunities.models import Opportunity


def may_see(user: Any, customer: Any) -> bool:
    return is_admin(user) or customer.owner_id == user.pk


def customer_section(customer: Any, user: Any) -> dict[str, Any] | None:
    """Three queries whatever the number of ids: the customer's, its contacts' and its deals'."""
    if not may_see(user, customer):
        return None
    contacts = dict(Contact.objects.filter(customer_id=customer.pk).values_list("pk", "name"))
    deals = dict(Opportunity.objects.filter(customer_id=customer.pk).values_list("pk", "name"))
    rows = list(
        ExternalId.objects.filter(kind=ExternalKind.CUSTOMER, object_id=customer.pk)
        .union(
            ExternalId.objects.filter(kind=ExternalKind.CONTACT, object_id__in=list(contacts)),
            ExternalId.objects.filter(kind=ExternalKind.OPPORTUNITY, object_id__in=list(deals)),
            all=True,
        )
        .order_by("kind", "system", "external_id")
    )
    if not rows:
        return None
    names: dict[str, dict[int, str]] = {
        ExternalKind.CUSTOMER: {customer.pk: customer.name},
        ExternalKind.CONTACT: contacts,
        ExternalKind.OPPORTUNITY: deals,
    }
    labels = dict(ExternalKind.choices)
    items = [
        {
            "kind": labels[row.kind],
            "record": names[row.kind].get(row.object_id, ""),
            "system": row.system,
            "external_id": row.external_id,
            "created_at": row.created_at,
        }
        for row in rows
    ]
    return {"external_ids": items}


EXTERNAL_IDS_SECTION = Section(
    key="external-ids",
    title=_("External ids"),
    template="integrations/_external_ids_section.html",
    context=customer_section,
    shown=lambda user: is_admin(user) or getattr(user, "role", "") != Role.MARKETING,
    order=90,
)


def register() -> None:
    from kehu.customers import sections

    sections.register(EXTERNAL_IDS_SECTION)
