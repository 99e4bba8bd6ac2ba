"""Writes to contacts: create, update, deactivate (contacts are never deleted)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import custom_fields
from kehu.core.access import lock_editable
from kehu.core.errors import Conflict, NotFound
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version, validate
from kehu.customers.models import (
    Contact,
    Customer,
)
from kehu.customers.normalize import contact_custom_text
from kehu.customers.services._access import _require_editable
from kehu.customers.services._cleaning import (
    CONTACT_FIELDS,
    CONTACT_INFO_FIELDS,
    _clean_contact_data,
    check_contact_rules,
)
from kehu.customers.services.customers import _save_search
from kehu.customers.services.dedup import DuplicateCustomer, find_duplicates


def _contact_scope(actor: Any, contact: Contact) -> Contact:
    """Lock the contact and its customer (403 if the actor only sees the customer, else 404)."""
    customer = lock_editable(Customer.objects.all(), actor, pk=contact.customer_id)
    locked = (
        Contact.objects.select_for_update()
        .filter(pk=contact.pk, customer=customer)
        .select_related("customer")
        .first()
    )
    if locked is None:
        raise NotFound("contact")
    return locked


def _contact_info_touched(customer: Customer) -> None:
    now = timezone.now()
    Customer.objects.filter(pk=customer.pk).update(contact_info_updated_at=now)
    customer.contact_info_updated_at = now
    _save_search(customer)


@transaction.atomic
def contact_create(
    *, actor: User, customer: Customer, data: dict[str, Any], force: bool = False
) -> Contact:
    """Add a contact; its phone/email must not already belong to another customer (unless force)."""
    locked = _require_editable(actor, customer)
    data = dict(data)
    custom = custom_fields.take("contact", data, user=actor, creating=True)
    cleaned = _clean_contact_data(data, partial=False)
    check_contact_rules(cleaned)
    if not force:
        matches = find_duplicates(
            phones=[cleaned[f] for f in ("mobile", "work_phone") if cleaned.get(f)],
            emails=[cleaned["email"]] if cleaned.get("email") else [],
            exclude_id=locked.pk,
        )
        if matches:
            raise DuplicateCustomer(matches, actor=actor)
    contact = Contact(customer=locked, custom=custom or {}, **cleaned)
    contact.custom_text = contact_custom_text(contact.custom)
    if not Contact.objects.filter(customer=locked, is_active=True, is_primary=True).exists():
        contact.is_primary = True
    validate(contact, exclude=["customer"])
    if contact.is_primary:
        _clear_primary(locked, actor, except_pk=None)
    stamp(contact, actor=actor)
    contact.save()
    _contact_info_touched(locked)
    return contact


def _clear_primary(customer: Customer, actor: Any, except_pk: int | None) -> None:
    others = Contact.objects.filter(customer=customer, is_primary=True)
    if except_pk is not None:
        others = others.exclude(pk=except_pk)
    for other in others:
        other.is_primary = False
        bump_version(other)
        stamp(other, actor=actor)
        other.save()


@transaction.atomic
def contact_update(
    *,
    actor: User,
    contact: Contact,
    changes: dict[str, Any],
    version: int | None = None,
    reason: str = "",
) -> Contact:
    """``reason`` goes into the history row (a personal-data request names itself there)."""
    locked = _contact_scope(actor, contact)
    check_version(locked, version)
    if not locked.is_active and changes:
        raise Conflict(_("This contact has left the customer; it is kept for history only."))
    changes = dict(changes)
    custom = custom_fields.take(
        "contact",
        changes,
        user=actor,
        current=locked.custom,
        masked=custom_fields.masked_for(actor, locked.customer),
    )
    cleaned = _clean_contact_data(changes, partial=True)
    changed = {name for name, value in cleaned.items() if getattr(locked, name) != value}
    if custom is not None and custom != (locked.custom or {}):
        locked.custom = custom
        locked.custom_text = contact_custom_text(custom)
        changed.add("custom")
    if not changed:
        return locked
    resulting = {name: getattr(locked, name) for name in CONTACT_FIELDS} | cleaned
    check_contact_rules(resulting, touched=changed - {"custom"})
    for name in changed - {"custom"}:
        setattr(locked, name, cleaned[name])
    validate(locked, exclude=["customer"])
    if "is_primary" in changed and locked.is_primary:
        _clear_primary(locked.customer, actor, except_pk=locked.pk)
    bump_version(locked)
    stamp(locked, actor=actor, reason=reason)
    locked.save()
    if changed & CONTACT_INFO_FIELDS:
        _contact_info_touched(locked.customer)
    return locked


@transaction.atomic
def contact_deactivate(*, actor: User, contact: Contact, reason: str = "") -> Contact:
    """A contact moved out (离职/调岗): kept with is_active=False and left_at, never deleted."""
    locked = _contact_scope(actor, contact)
    if not locked.is_active:
        return locked
    locked.is_active = False
    locked.left_at = timezone.now()
    was_primary = locked.is_primary
    locked.is_primary = False
    bump_version(locked)
    stamp(locked, actor=actor, reason=reason[:100])
    locked.save()
    if was_primary:
        successor = (
            Contact.objects.filter(customer=locked.customer, is_active=True)
            .order_by("-is_decision_maker", "pk")
            .first()
        )
        if successor is not None:
            successor.is_primary = True
            bump_version(successor)
            stamp(successor, actor=actor)
            successor.save()
    _contact_info_touched(locked.customer)
    return locked
