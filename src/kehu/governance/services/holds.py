"""Legal hold (法律保全): a customer under hold is never destroyed (docs/governance.md,
"Retention and legal hold"). Only administrators set and remove holds; both are audited
with ids only (the reason is free text and may name people, so it stays in the hold row)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import audit
from kehu.core.access import is_admin
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.customers.models import Customer
from kehu.governance.models import LegalHold

MAX_REASON = 500


def is_held(customer_id: int) -> bool:
    """Is a legal hold in force on this customer? The destruction engine asks it."""
    return LegalHold.objects.filter(customer_id=customer_id, removed_at__isnull=True).exists()


def held_ids(customer_ids: Iterable[int]) -> set[int]:
    """The customers among ``customer_ids`` under a hold in force (one query)."""
    ids = list(customer_ids)
    if not ids:
        return set()
    return set(
        LegalHold.objects.filter(customer_id__in=ids, removed_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    )


def holds_may_manage(user: User) -> bool:
    return is_admin(user)


def _require_admin(actor: User) -> None:
    if not holds_may_manage(actor):
        raise Forbidden(_("Only administrators set and remove legal holds."))


def _reason(value: object, field: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise InvalidInput(errors={field: [_("Say why.")]})
    if len(text) > MAX_REASON:
        raise InvalidInput(errors={field: [_("Keep the reason under 500 characters.")]})
    return text


def hold_get(*, user: User, hold_id: int) -> LegalHold:
    _require_admin(user)
    hold = LegalHold.objects.select_related("set_by", "removed_by").filter(pk=hold_id).first()
    if hold is None:
        raise NotFound(_("No such legal hold."))
    return hold


@transaction.atomic
def hold_set(*, actor: User, customer_id: int, reason: str) -> LegalHold:
    """Put a customer under legal hold; 409 when a hold is already in force."""
    _require_admin(actor)
    text = _reason(reason, "reason")
    customer = Customer.objects.filter(pk=customer_id).only("pk").first()
    if customer is None:
        raise InvalidInput(errors={"customer_id": [_("No such customer.")]})
    if is_held(customer.pk):
        raise Conflict(_("This customer is already under legal hold."), code="already_held")
    try:
        with transaction.atomic():
            hold = LegalHold.objects.create(customer=customer, reason=text, set_by=actor)
    except IntegrityError as error:  # a concurrent request set it first
        raise Conflict(
            _("This customer is already under legal hold."), code="already_held"
        ) from error
    audit.record(
        "governance.legal_hold_set",
        actor=actor,
        target=("customers.customer", customer.pk),
        details={"hold_id": hold.pk},
    )
    return hold


@transaction.atomic
def hold_remove(*, actor: User, hold: LegalHold, reason: str) -> LegalHold:
    """End a hold; the row stays with who removed it, when and why."""
    _require_admin(actor)
    text = _reason(reason, "reason")
    locked = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if locked.removed_at is not None:
        raise Conflict(_("This legal hold was already removed."), code="already_removed")
    locked.removed_at = timezone.now()
    locked.removed_by = actor
    locked.removal_reason = text
    locked.save(update_fields=["removed_at", "removed_by", "removal_reason"])
    audit.record(
        "governance.legal_hold_removed",
        actor=actor,
        target=("customers.customer", locked.customer_id),
        details={"hold_id": locked.pk},
    )
    return locked
