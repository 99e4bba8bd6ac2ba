"""Writes to customers: create, update, status, owner, shares, tags, grade, delete."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from kehu.accounts.models import User
from kehu.core import audit, custom_fields, events
from kehu.core.access import is_admin, managed_department_ids, policy_of
from kehu.core.bulk_insert import RowInserter, RowUpdater
from kehu.core.errors import Conflict, Forbidden, InvalidInput, KehuError, NotFound, ReadOnly
from kehu.core.history import bulk_stamp, stamp
from kehu.core.services import bump_version, check_version
from kehu.customers import grading, hooks
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerShare,
    CustomerStatus,
    Grade,
    StatusChange,
    VerificationChannel,
)
from kehu.customers.normalize import (
    company_key,
    completeness,
    digits,
    search_text,
)
from kehu.customers.services._access import _check_masked, _require_editable, _require_manager
from kehu.customers.services._cleaning import (
    EDITABLE_FIELDS,
    _assign,
    _attname,
    _field_error,
    _resolve_user,
    _tags_from_names,
    _validate_customer,
    check_customer_rules,
    take_markers,
)
from kehu.customers.services.dedup import _check_duplicates


def refresh_search(
    customer: Customer,
    contacts: Iterable[Contact] | None = None,
    *,
    pinyin: tuple[str, str] | None = None,
    name_key: str | None = None,
) -> None:
    """Recompute the denormalised keys (name_key, search_text) from the customer and contacts;
    ``pinyin`` is the name's (full, initials) and ``name_key`` its ``company_key`` when the
    caller computed them already."""
    if contacts is None:
        contacts = Contact.objects.filter(customer_id=customer.pk) if customer.pk else []
    extra: list[str] = []
    reachable = False
    for contact in contacts:
        if contact.is_active and (contact.mobile or contact.work_phone or contact.email):
            reachable = True
        extra.append(contact.name)
        for phone in (contact.mobile, contact.work_phone):
            if phone:
                extra.append(digits(phone))
        if contact.email:
            extra.append(contact.email)
    if customer.credit_code:
        extra.append(customer.credit_code)
    if customer.custom:  # the searchable custom values (自定义字段)
        extra.append(custom_fields.search_text("customer", customer.custom))
    customer.name_key = company_key(customer.name) if name_key is None else name_key
    customer.search_text = search_text(
        name=customer.name, number=customer.number, extra=extra, pinyin=pinyin
    )
    customer.completeness = completeness(customer, reachable_contact=reachable)


def _save_search(customer: Customer) -> None:
    refresh_search(customer)
    Customer.objects.filter(pk=customer.pk).update(
        name_key=customer.name_key,
        search_text=customer.search_text,
        completeness=customer.completeness,
    )


def _set_grade(customer: Customer) -> None:
    """Compute the grade before a save, so the history row carries it with the change."""
    if customer.pk is None:
        value = grading.budget_input(customer.annual_budget)
    else:
        value = grading.gather_inputs([customer])[customer.pk]
    customer.grade = grading.grade_for(value)


@transaction.atomic
def customer_update(
    *,
    actor: User,
    customer: Customer,
    changes: dict[str, Any],
    version: int | None = None,
    force: bool = False,
    tags: Sequence[str] | None = None,
) -> Customer:
    """Change profile fields; ``version`` guards against overwriting someone else's edit.

    ``tags`` replaces the customer's tags (None leaves them alone) in the same transaction,
    so an invalid tag leaves the fields unsaved too.
    """
    locked = _require_editable(actor, customer)
    check_version(locked, version)
    changes = dict(changes)
    status = changes.pop("status", None)
    reason = str(changes.pop("reason", "") or "")
    _check_masked(actor, locked, changes)
    custom = changes.pop("custom", None)
    take_markers(changes, locked.to_verify)
    marked_before = set(locked.to_verify or ())
    changed = _assign(locked, changes, EDITABLE_FIELDS)
    if custom is not None:
        new_custom = custom_fields.clean(
            "customer",
            custom,
            user=actor,
            current=locked.custom,
            masked=custom_fields.masked_for(actor, locked),
        )
        if new_custom != (locked.custom or {}):
            locked.custom = new_custom
            changed.add("custom")
    if changed:
        # a mark taken off a field touches it as much as a new value does
        unmarked = marked_before - set(locked.to_verify or ())
        check_customer_rules(locked, touched=changed | unmarked)
    if status is not None and status not in CustomerStatus.values:
        raise _field_error("status", _("Unknown status %(status)s.") % {"status": str(status)})
    if not locked.name:
        raise _field_error("name", _("Enter the customer's full name."))
    if changed:
        _validate_customer(locked)
        if changed & {"name", "credit_code", "kind"}:
            _check_duplicates(actor=actor, customer=locked, force=force)
        refresh_search(locked)
        if "annual_budget" in changed:
            _set_grade(locked)
        bump_version(locked)
        stamp(locked, actor=actor, reason=reason)
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError as error:
            raise _field_error(
                "credit_code", _("Another customer already has this credit code.")
            ) from error
        hooks.customers_changed([locked.pk])  # name, grade or priority: the follow-up plan
    if status is not None and status != locked.status:
        locked = customer_change_status(actor=actor, customer=locked, status=status, reason=reason)
    if tags is not None:
        locked.tags.set(_tags_from_names(tags))
    touched = sorted(changed | ({"status"} if status is not None else set()))
    if touched or tags is not None:
        events.emit(
            "customer.updated",
            locked.pk,
            actor=actor,
            data={"fields": touched + (["tags"] if tags is not None else [])},
        )
    _copy_into(customer, locked)
    return customer


# Changes a batch leaves to ``customer_update``: a duplicate check (name, credit code, kind)
# or a grade to recompute from every input (budget) costs queries per customer.
UPDATE_ONE_BY_ONE = frozenset({"name", "credit_code", "kind", "annual_budget"})
SINGLE = None  # a batch's answer for a customer left to ``customer_update``
# Rows per UPDATE of a batch (``RowUpdater``: one ``UPDATE … FROM (VALUES …)`` on PostgreSQL).
UPDATE_ROWS = 1000
DERIVED = ("name_key", "search_text", "completeness")  # what ``refresh_search`` sets


@cache
def _updater(columns: tuple[str, ...]) -> RowUpdater:
    return RowUpdater(Customer, columns)


@cache
def _history_inserter() -> RowInserter:
    return RowInserter(Customer.history.model)


@dataclass
class BatchUpdate:
    """What ``customers_update_batch`` did: per id the customer, its error or ``SINGLE``;
    the ids of the customers it changed."""

    answers: dict[int, Customer | KehuError | None]
    changed: set[int]


@transaction.atomic
def customers_update_batch(
    *, actor: User, changes: dict[int, dict[str, Any]], lookups: Any = None
) -> BatchUpdate:
    """``customer_update`` (without ``version``, ``status``, ``tags`` or ``force``) of many
    customers at once, each by the same rules in the same order: the row lock and edit right,
    the sensitive fields, 待核实 marks, the fields' values, the entry rules of the touched
    fields, the field checks, the search keys, the version, a history row, the
    customers-changed report and a ``customer.updated`` event with the touched fields.

    A fixed number of queries for the batch: the locked rows, their contacts (search keys),
    one UPDATE of the changed rows and one INSERT of their history rows. Answers per id the
    customer (changed or not: compare its version), the error that left it unwritten, or
    ``SINGLE`` (None) when the caller must send it through ``customer_update``: a customer
    the actor may not edit (that answers the 403 or 404), a change that needs a duplicate
    check or a grade (``UPDATE_ONE_BY_ONE``), a status change, custom-field values. ``lookups`` (a
    ``creation.Lookups``) resolves industries and regions once per batch."""
    from kehu.customers.services.creation import Lookups  # creation imports this module

    lookups = lookups or Lookups()
    answers: dict[int, Customer | KehuError | None] = dict.fromkeys(changes, SINGLE)
    rows = {
        row.pk: row
        for row in Customer.objects.editable_by(actor)
        .select_for_update(of=("self",))
        .select_related("industry", "region")  # ``_assign`` compares them: no query per row
        .filter(pk__in=changes)
    }
    contacts: dict[int, list[Contact]] = {}
    for contact in Contact.objects.filter(customer_id__in=rows).order_by("pk"):
        contacts.setdefault(contact.customer_id, []).append(contact)
    now = timezone.now()
    dirty: list[Customer] = []
    groups: dict[frozenset[str], list[Customer]] = {}
    touched_of: dict[int, list[str]] = {}
    for pk, raw in changes.items():
        locked = rows.get(pk)
        if locked is None:
            continue
        data = dict(raw)
        status = data.pop("status", None)
        if status is not None and status != locked.status:
            continue
        if data.get("custom") is not None:  # custom fields: checked per record by the single path
            continue
        data.pop("reason", None)
        before = {f.attname: getattr(locked, f.attname) for f in Customer._meta.concrete_fields}
        try:
            _check_masked(actor, locked, data)
            take_markers(data, locked.to_verify)
            marked_before = set(locked.to_verify or ())
            lookups.resolve(data)
            changed = _assign(locked, data, EDITABLE_FIELDS)
            if changed & UPDATE_ONE_BY_ONE:
                continue
            if changed:
                unmarked = marked_before - set(locked.to_verify or ())
                check_customer_rules(locked, touched=changed | unmarked)
            if not locked.name:
                raise _field_error("name", _("Enter the customer's full name."))
            if changed:
                _validate_customer(locked, batch=True, only=changed)
        except KehuError as error:
            for attname, value in before.items():  # nothing of it is written
                setattr(locked, attname, value)
            answers[pk] = error
            continue
        answers[pk] = locked
        touched = sorted(changed | ({"status"} if status is not None else set()))
        if touched:
            touched_of[pk] = touched
        if not changed:
            continue
        derived = {name: getattr(locked, name) for name in DERIVED}
        refresh_search(locked, contacts.get(pk, []))
        bump_version(locked)
        locked.updated_at = now
        columns = {_attname(Customer, name) for name in changed} | {"version", "updated_at"}
        columns |= {name for name, value in derived.items() if getattr(locked, name) != value}
        groups.setdefault(frozenset(columns), []).append(locked)
        dirty.append(locked)
    # one UPDATE per set of changed columns (a sync sends the same fields for its records),
    # then the history rows of them all: what ``bulk_update_with_history`` wrote, without its
    # CASE per column and row (``kehu.core.bulk_insert``)
    for column_set, group in groups.items():
        _updater(tuple(sorted(column_set))).update_objects(group, batch_size=UPDATE_ROWS)
    if dirty:
        history = _history_inserter()
        fixed = bulk_stamp(actor=actor, date=now, action="~", reason=None)
        history_columns, history_rows = history.object_rows(dirty, fixed)
        history.insert(history_rows, history_columns)
    if dirty:
        hooks.customers_changed(row.pk for row in dirty)
    events.emit_many(
        "customer.updated",
        list(touched_of),
        actor=actor,
        data={pk: {"fields": touched} for pk, touched in touched_of.items()},
    )
    return BatchUpdate(answers, {row.pk for row in dirty})


def _copy_into(target: Customer, source: Customer) -> None:
    if target is source:
        return
    for model_field in Customer._meta.concrete_fields:
        setattr(target, model_field.attname, getattr(source, model_field.attname))
    for name in ("industry", "region", "owner", "department"):
        if name in source._state.fields_cache:
            target._state.fields_cache[name] = source._state.fields_cache[name]
        else:
            target._state.fields_cache.pop(name, None)


@transaction.atomic
def customer_change_status(
    *, actor: User | None, customer: Customer, status: str, reason: str = ""
) -> Customer:
    """Move the lifecycle status (潜在→意向→成交→流失) and record who/when/why."""
    if status not in CustomerStatus.values:
        raise _field_error("status", _("Unknown status %(status)s.") % {"status": str(status)})
    if actor is None:
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
    else:
        locked = _require_editable(actor, customer)
    if locked.status == status:
        _copy_into(customer, locked)
        return customer
    if len(reason) > 500:
        raise _field_error("reason", _("Keep the reason under 500 characters."))
    old = locked.status
    locked.status = status
    bump_version(locked)
    stamp(locked, actor=actor, reason=reason)
    locked.save()
    StatusChange.objects.create(
        customer=locked, old_status=old, new_status=status, changed_by=actor, reason=reason
    )
    hooks.customers_changed([locked.pk])
    _copy_into(customer, locked)
    return customer


@transaction.atomic
def customer_reassign(*, actor: User, customer: Customer, owner: User, reason: str) -> Customer:
    """Give the customer to another owner (managers and admins); the department follows."""
    _require_manager(actor)
    locked = _require_editable(actor, customer)
    owner = _resolve_user("owner", owner)
    if not reason.strip():
        raise _field_error("reason", _("Give a reason for the reassignment."))
    if len(reason) > 300:
        raise _field_error("reason", _("Keep the reason under 300 characters."))
    if not is_admin(actor) and owner.department_id not in managed_department_ids(actor):
        raise Forbidden(_("The new owner must be in your department."))
    if locked.owner_id == owner.pk:
        _copy_into(customer, locked)
        return customer
    customer_set_owner(actor=actor, customer=locked, owner=owner, reason=reason.strip())
    _copy_into(customer, locked)
    return customer


def customer_set_owner(
    *, actor: User | None, customer: Customer, owner: User | None, reason: str
) -> None:
    """The one write of an owner change, for a row the caller has locked and whose rules it
    checked (``customer_reassign``; the pools' claim, assign and release): the owner, and with
    an owner their department, a new version, the history row, the customers-changed report.
    ``owner=None`` leaves the customer ownerless in its department (a pool's customer)."""
    customer.owner = owner
    if owner is not None:
        customer.department_id = owner.department_id
    bump_version(customer)
    stamp(customer, actor=actor, reason=reason)
    customer.save()
    hooks.customers_changed([customer.pk])
    events.emit(
        "customer.reassigned",
        customer.pk,
        actor=actor,
        data={"owner_id": owner.pk if owner is not None else None},
    )


@transaction.atomic
def customer_share(
    *, actor: User, customer: Customer, user: User, can_edit: bool = False
) -> CustomerShare:
    """Share with a colleague read-only or read-write (owner, manager, admin)."""
    locked = _require_editable(actor, customer)
    if not policy_of(Customer).has_full_access(actor, locked):
        raise Forbidden(_("Only the owner, their manager or an administrator may share."))
    user = _resolve_user("user", user)
    if user.pk == locked.owner_id:
        raise _field_error("user", _("The owner already has access."))
    share, _created = CustomerShare.objects.update_or_create(
        customer=locked, user=user, defaults={"can_edit": can_edit, "shared_by": actor}
    )
    return share


@transaction.atomic
def customer_unshare(*, actor: User, customer: Customer, user: User) -> None:
    locked = _require_editable(actor, customer)
    if not policy_of(Customer).has_full_access(actor, locked):
        raise Forbidden(_("Only the owner, their manager or an administrator may share."))
    CustomerShare.objects.filter(customer=locked, user=user).delete()


@transaction.atomic
def customer_set_tags(*, actor: User, customer: Customer, tags: Sequence[str]) -> Customer:
    locked = _require_editable(actor, customer)
    wanted = _tags_from_names(tags)
    locked.tags.set(wanted)
    return customer


@transaction.atomic
def customer_add_tags(*, actor: User, customer: Customer, tags: Sequence[str]) -> Customer:
    locked = _require_editable(actor, customer)
    locked.tags.add(*_tags_from_names(tags))
    return customer


def customers_add_tags_bulk(
    *, actor: User, customers: Sequence[Customer], tags: Sequence[str]
) -> int:
    """The customer list's "add tags" to every selected customer, all or nothing."""
    names = [name.strip() for name in tags if name.strip()]
    if not names:
        raise _field_error("tags", _("Enter the tags to add."))
    return _all_or_nothing(
        customers, lambda customer: customer_add_tags(actor=actor, customer=customer, tags=names)
    )


def customers_reassign_bulk(
    *, actor: User, customers: Sequence[Customer], owner: User | None, reason: str
) -> int:
    """The customer list's "reassign" of every selected customer, all or nothing."""
    if owner is None:
        raise _field_error("owner", _("Choose the new owner."))
    with transaction.atomic():
        changed = _all_or_nothing(
            customers,
            lambda customer: customer_reassign(
                actor=actor, customer=customer, owner=owner, reason=reason
            ),
        )
        audit.record(
            "customers.bulk_reassign",
            actor=actor,
            target=owner,
            details={"customer_ids": [customer.pk for customer in customers], "owner_id": owner.pk},
        )
    return changed


def _all_or_nothing(customers: Sequence[Customer], change: Callable[[Customer], object]) -> int:
    """Apply ``change`` to each customer in one transaction and return how many were changed.

    The first customer it fails for undoes the others: a half-applied reassignment leaves the
    user to find out which customers moved. The error names that customer.
    """
    with transaction.atomic():
        for customer in customers:
            try:
                change(customer)
            except KehuError as error:
                # A customer outside the actor's edit scope is not named as missing; one they
                # only see gets the same words.
                if isinstance(error, (NotFound, ReadOnly)):
                    reason, code = _("You may not change this customer."), error.code
                else:
                    reason, code = error.detail, error.code
                message = _("%(customer)s: %(reason)s Nothing was changed.") % {
                    "customer": customer.name,
                    "reason": reason,
                }
                raise InvalidInput(message, code=code) from error
    return len(customers)


@transaction.atomic
def customer_mark_verified(
    *, actor: User, customer: Customer, via: str, when: datetime | None = None
) -> Customer:
    """信息已验证: record that the owner confirmed the data, how (phone, 官网, 天眼查…) and when."""
    if via not in VerificationChannel.values:
        raise _field_error(
            "via",
            _("Unknown verification channel %(via)s; use one of %(choices)s.")
            % {"via": str(via)[:20], "choices": ", ".join(VerificationChannel.values)},
        )
    locked = _require_editable(actor, customer)
    locked.verified_at = when or timezone.now()
    locked.verified_by = actor
    locked.verified_via = via
    bump_version(locked)
    stamp(locked, actor=actor, reason=_("Verified"))
    locked.save()
    _copy_into(customer, locked)
    return customer


@transaction.atomic
def customer_record_contact(*, customer: Customer, when: datetime) -> None:
    """A follow-up happened: first contact (if none yet) and the latest contact time."""
    locked = (
        Customer.objects.select_for_update()
        .only("pk", "first_contact_at", "last_contact_at")
        .get(pk=customer.pk)
    )
    first = locked.first_contact_at if locked.first_contact_at else when
    first = min(first, when)
    last = max(locked.last_contact_at, when) if locked.last_contact_at else when
    Customer.objects.filter(pk=locked.pk).update(first_contact_at=first, last_contact_at=last)
    customer.first_contact_at = first
    customer.last_contact_at = last


@transaction.atomic
def customer_set_grade(*, actor: User, customer: Customer, grade: str, reason: str) -> Customer:
    """Override the computed grade by hand (empty ``grade`` removes the override)."""
    locked = _require_editable(actor, customer)
    if grade and grade not in Grade.values:
        raise _field_error("grade", _("Unknown grade %(grade)s.") % {"grade": str(grade)[:5]})
    if grade and not reason.strip():
        raise _field_error("reason", _("Give a reason for the manual grade."))
    if len(reason) > 300:
        raise _field_error("reason", _("Keep the reason under 300 characters."))
    locked.grade_override = grade
    locked.grade_override_reason = reason.strip() if grade else ""
    bump_version(locked)
    stamp(locked, actor=actor, reason=reason.strip())
    locked.save()
    hooks.customers_changed([locked.pk])
    _copy_into(customer, locked)
    return customer


def customer_recompute_grades(
    *, batch: int = 2000, customer_ids: Iterable[int] | None = None, reason: str = ""
) -> int:
    """Recompute the computed grades of every customer (or of ``customer_ids``: a deal won, a
    payment recorded); only rows whose grade changes are written, with history naming
    ``reason``. Answers how many changed."""
    changed = 0
    last_id = 0
    reason = reason or str(_("Grade recomputed"))
    scope = Customer.objects.all()
    if customer_ids is not None:
        ids = sorted(set(customer_ids))
        if not ids:
            return 0
        scope = scope.filter(pk__in=ids)
    while True:
        rows = list(scope.filter(pk__gt=last_id).order_by("pk")[:batch])
        if not rows:
            return changed
        last_id = rows[-1].pk
        inputs = grading.gather_inputs(rows)
        dirty: list[Customer] = []
        for row in rows:
            grade = grading.grade_for(inputs[row.pk])
            if grade != row.grade:
                row.grade = grade
                dirty.append(row)
        if dirty:
            with transaction.atomic():
                bulk_update_with_history(dirty, Customer, ["grade"], default_change_reason=reason)
                # a manual grade overrides the computed one: those plans stay as they are
                hooks.customers_changed(row.pk for row in dirty if not row.grade_override)
            changed += len(dirty)


@transaction.atomic
def customer_delete(*, actor: User, customer: Customer, reason: str = "") -> None:
    """Delete a customer (CRM administrators only); contacts and shares go with it."""
    if not is_admin(actor):
        raise Forbidden(_("Only CRM administrators may delete customers."))
    locked = _require_editable(actor, customer)
    stamp(locked, actor=actor, reason=reason or _("Deleted"))
    try:
        with transaction.atomic():
            audit.record_deletion(locked, actor=actor)
            locked.delete()
    except models.ProtectedError as error:
        raise Conflict(
            _("Other records still point at this customer; merge it instead."),
            code="protected",
        ) from error
