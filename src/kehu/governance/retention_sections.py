"""The customer page's "Legal hold" card (法律保全): the holds of the customer, in force and
removed, with the forms to set and remove one. Administrators only: they decide holds."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.core.access import is_admin
from kehu.customers.sections import Section
from kehu.governance.models import LegalHold


def customer_section(customer: Any, user: Any) -> dict[str, Any] | None:
    """One query: the customer's holds with who set and removed them."""
    if not is_admin(user):
        return None
    holds = list(
        LegalHold.objects.filter(customer_id=customer.pk).select_related("set_by", "removed_by")
    )
    active = next((hold for hold in holds if hold.removed_at is None), None)
    past = [hold for hold in holds if hold.removed_at is not None]
    return {"customer": customer, "active_hold": active, "past_holds": past}


LEGAL_HOLD_SECTION = Section(
    key="legal-hold",
    title=_("Legal hold"),
    template="governance/_legal_hold_section.html",
    context=customer_section,
    shown=is_admin,
    order=95,
)


def register() -> None:
    from kehu.customers import sections

    sections.register(LEGAL_HOLD_SECTION)
