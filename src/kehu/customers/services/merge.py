"""Merging two customers: every related row moves to the survivor."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import audit, events
from kehu.core.history import stamp
from kehu.core.services import bump_version
from kehu.customers import hooks
from kehu.customers.models import (
    Customer,
)
from kehu.customers.services._access import _require_editable, _require_manager
from kehu.customers.services._cleaning import EDITABLE_FIELDS, _attname, _field_error
from kehu.customers.services.customers import _copy_into, _set_grade, refresh_search


def _move_rows(
    model: type[models.Model],
    field_name: str,
    merged: Customer,
    survivor: Customer,
    *,
    actor: Any,
    reason: str,
) -> None:
    """Point every row of ``model`` at the survivor; a row that would break a unique rule
    (the survivor already has the same share, say) is a duplicate and is dropped."""
    manager = model._base_manager
    rows = manager.filter(**{field_name: merged.pk})
    unique_with_field = any(
        field_name in (constraint.fields or ())
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint)
    ) or any(field_name in group for group in model._meta.unique_together)
    field = model._meta.get_field(field_name)
    assert isinstance(field, models.Field)
    tracked = hasattr(model, "history")
    if not unique_with_field and not field.one_to_one and not tracked:
        rows.update(**{field_name: survivor.pk})
        return
    for row in list(rows):
        setattr(row, field.attname, survivor.pk)
        if tracked:
            stamp(row, actor=actor, reason=reason)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            manager.filter(pk=row.pk).delete()


@transaction.atomic
def customer_merge(
    *, actor: User, survivor: Customer, merged: Customer, reason: str = ""
) -> Customer:
    """Merge ``merged`` into ``survivor`` (managers and admins).

    Every row of every model that points at the merged customer moves to the survivor —
    found through ``Customer._meta.related_objects``, so records of apps added later
    (follow-ups, opportunities, leads…) move too. Empty fields of the survivor are filled
    from the merged customer; then the merged customer is deleted. Both histories record it.
    """
    _require_manager(actor)
    if survivor.pk == merged.pk:
        raise _field_error("merged", _("A customer cannot be merged into itself."))
    first, second = sorted([survivor, merged], key=lambda c: c.pk)
    locked_first = _require_editable(actor, first)
    locked_second = _require_editable(actor, second)
    keep, gone = (
        (locked_first, locked_second)
        if locked_first.pk == survivor.pk
        else (locked_second, locked_first)
    )
    note = _("Merged %(merged)s (%(merged_number)s) into %(survivor)s (%(survivor_number)s)") % {
        "merged": gone.name,
        "merged_number": gone.number,
        "survivor": keep.name,
        "survivor_number": keep.number,
    }
    if reason.strip():
        note = f"{note}: {reason.strip()}"
    note = note[:100]  # simple-history keeps change reasons in a 100-character column
    for relation in Customer._meta.related_objects:
        if relation.many_to_many:
            through = relation.through  # type: ignore[attr-defined]
            link = next(
                f.name
                for f in through._meta.fields
                if f.is_relation and f.related_model is Customer
            )
            _move_rows(through, link, gone, keep, actor=actor, reason=note)
        else:
            _move_rows(
                relation.related_model, relation.field.name, gone, keep, actor=actor, reason=note
            )
    for m2m in Customer._meta.many_to_many:
        getattr(keep, m2m.name).add(*getattr(gone, m2m.name).all())
    # fill the survivor's gaps from the merged record
    for name in EDITABLE_FIELDS - {"to_verify", "credit_code"}:
        attname = _attname(Customer, name)
        mine, theirs = getattr(keep, attname), getattr(gone, attname)
        if mine in (None, "") and theirs not in (None, ""):
            setattr(keep, attname, theirs)
    # and its custom fields' gaps (自定义字段), the survivor's own values first
    keep.custom = {**(gone.custom or {}), **(keep.custom or {})}
    moved_code = gone.credit_code if not keep.credit_code else None
    firsts = [v for v in (keep.first_contact_at, gone.first_contact_at) if v]
    keep.first_contact_at = min(firsts) if firsts else None
    lasts = [v for v in (keep.last_contact_at, gone.last_contact_at) if v]
    keep.last_contact_at = max(lasts) if lasts else None
    if not keep.verified_at and gone.verified_at:
        keep.verified_at, keep.verified_by_id, keep.verified_via = (
            gone.verified_at,
            gone.verified_by_id,
            gone.verified_via,
        )
    gone_id = gone.pk
    hooks.customers_merged(keep.pk, gone_id)
    stamp(gone, actor=actor, reason=note)
    gone.delete()
    if moved_code:
        keep.credit_code = moved_code
    refresh_search(keep)
    _set_grade(keep)
    bump_version(keep)
    stamp(keep, actor=actor, reason=note)
    keep.save()
    hooks.customers_changed([keep.pk])
    events.emit("customer.merged", keep.pk, actor=actor, data={"merged_id": gone_id})
    audit.record("customers.merge", actor=actor, target=keep, details={"merged_id": gone_id})
    _copy_into(survivor, keep)
    return survivor
