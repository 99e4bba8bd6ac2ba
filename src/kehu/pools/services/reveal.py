"""Contact reveal (查看) of masked contact details, logged and limited per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import audit, config, masking
from kehu.core.access import policy_of
from kehu.core.context import current_request_id
from kehu.core.errors import Forbidden, NotFound, QuotaExceeded
from kehu.customers import contact_display
from kehu.customers.models import Contact, Customer
from kehu.pools.models import RevealLog

# --- Contact reveal (查看) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Revealed:
    """A contact's values as shown by ``contact_reveal``; ``logged`` when it was a reveal."""

    contact: Contact
    values: dict[str, str]
    logged: bool
    remaining_today: int | None = None


def _today_start() -> datetime:
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


@transaction.atomic
def contact_reveal(*, actor: User, contact_id: int) -> Revealed:
    """查看: show a contact's phones, email and WeChat to a user who sees them masked.

    Out of the user's scope: 404. With full access nothing is masked, so nothing is logged.
    Otherwise the role must be in ``customers.contact_reveal_roles`` (403) and the user may
    show at most ``customers.contact_reveal_daily_limit`` different contacts a day (429);
    every reveal is logged with the request id.
    """
    contact = (
        Contact.objects.select_related("customer")
        .filter(pk=contact_id, customer__in=Customer.objects.visible_to(actor))
        .first()
    )
    if contact is None:
        raise NotFound("contact")
    values = masking.contact_values(contact, masked=False)
    if policy_of(Customer).has_full_access(actor, contact.customer):
        return Revealed(contact=contact, values=values, logged=False)
    if not contact_display.may_reveal(actor):
        raise Forbidden(_("Your role may not show masked contact details."))
    # One user's reveals run one at a time, so two tabs cannot both take the last one.
    User.objects.select_for_update().filter(pk=actor.pk).exists()
    limit = int(config.get("customers.contact_reveal_daily_limit"))
    today = RevealLog.objects.filter(user=actor, at__gte=_today_start())
    shown = set(today.values_list("contact_id", flat=True).distinct())
    if contact.pk not in shown and len(shown) >= limit:
        raise QuotaExceeded(
            _(
                "You have shown %(limit)d contacts today, the daily limit. "
                "Try again tomorrow or ask the owner."
            )
            % {"limit": limit}
        )
    RevealLog.objects.create(
        user=actor,
        contact=contact,
        customer=contact.customer,
        fields=",".join(name for name, value in values.items() if value),
        request_id=current_request_id(),
    )
    audit.record(
        "pools.reveal",
        actor=actor,
        target=contact,
        details={"customer_id": contact.customer_id},
    )
    shown.add(contact.pk)
    return Revealed(
        contact=contact, values=values, logged=True, remaining_today=max(limit - len(shown), 0)
    )
