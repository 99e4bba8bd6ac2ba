"""Assignment rules: create, change, delete and reorder (admins only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, Role, User
from kehu.core import audit
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version
from kehu.customers.models import Industry, Priority, Region, Source
from kehu.leads.models import (
    AssignmentRule,
)


# --- Rules -----------------------------------------------------------------------------------
def rules_may_edit(user: User) -> bool:
    """Assignment rules are seen and changed by admins only."""
    return is_admin(user)


def _check_admin(actor: User) -> None:
    if not rules_may_edit(actor):
        raise Forbidden(_("Only admins edit assignment rules."))


def _clean_rule(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = str(data["name"] or "").strip()
        if not values["name"]:
            errors["name"] = [_("This field is required.")]
        elif len(values["name"]) > 100:
            errors["name"] = [_("At most %(limit)d characters.") % {"limit": 100}]
    if "is_active" in data:
        values["is_active"] = bool(data["is_active"])
    if "region_codes" in data:
        codes = sorted({str(c) for c in data["region_codes"] or ()})
        known = set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
        if set(codes) - known:
            errors["region_codes"] = [
                _("Unknown region codes: %(codes)s")
                % {"codes": ", ".join(sorted(set(codes) - known))}
            ]
        values["region_codes"] = codes
    if "industry_codes" in data:
        codes = sorted({str(c) for c in data["industry_codes"] or ()})
        known = set(Industry.objects.filter(code__in=codes).values_list("code", flat=True))
        if set(codes) - known:
            errors["industry_codes"] = [
                _("Unknown industry codes: %(codes)s")
                % {"codes": ", ".join(sorted(set(codes) - known))}
            ]
        values["industry_codes"] = codes
    for name, choices in (("sources", Source), ("priorities", Priority)):
        if name in data:
            picked = sorted({str(c) for c in data[name] or ()})
            if set(picked) - set(choices.values):
                errors[name] = [_("Not a valid choice.")]
            values[name] = picked
    if "department" in data:
        department = data["department"]
        if department not in (None, "") and not isinstance(department, Department):
            department = Department.objects.filter(pk=department).first()
            if department is None:
                errors["department"] = [_("Unknown department.")]
        values["department"] = department or None
    if "reps" in data:
        ids = sorted({int(getattr(r, "pk", r)) for r in data["reps"] or ()})
        reps = list(
            User.objects.filter(pk__in=ids, is_active=True, role__in=[Role.SALES, Role.MANAGER])
        )
        if len(reps) != len(ids):
            errors["reps"] = [_("Choose active sales reps or managers.")]
        values["reps"] = reps
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    return values


@audit.audited("leads.assignment_rule_created")
@transaction.atomic
def rule_create(*, actor: User, data: dict[str, Any]) -> AssignmentRule:
    _check_admin(actor)
    values = _clean_rule({"name": data.get("name", ""), **data})
    reps = values.pop("reps", [])
    if not values.get("department") and not reps:
        raise InvalidInput(errors={"reps": [_("Choose a department or reps.")]})
    last = AssignmentRule.objects.order_by("-position").values_list("position", flat=True).first()
    rule = AssignmentRule(**values, position=(last or 0) + 1)
    stamp(rule, actor=actor, reason=_("rule created"))
    rule.save()
    rule.reps.set(reps)
    return rule


@audit.audited("leads.assignment_rule_changed", target="rule")
@transaction.atomic
def rule_update(
    *, actor: User, rule: AssignmentRule, data: dict[str, Any], version: int | None
) -> AssignmentRule:
    _check_admin(actor)
    rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    check_version(rule, version)
    values = _clean_rule(data)
    reps = values.pop("reps", None)
    for name, value in values.items():
        setattr(rule, name, value)
    has_reps = bool(reps) if reps is not None else rule.reps.exists()
    if not rule.department_id and not has_reps:
        raise InvalidInput(errors={"reps": [_("Choose a department or reps.")]})
    bump_version(rule)
    stamp(rule, actor=actor, reason=_("rule changed"))
    rule.save()
    if reps is not None:
        rule.reps.set(reps)
    return rule


@audit.audited("leads.assignmentrule_deleted", target="rule")
@transaction.atomic
def rule_delete(*, actor: User, rule: AssignmentRule) -> None:
    _check_admin(actor)
    stamp(rule, actor=actor, reason=_("rule deleted"))
    rule.delete()


@transaction.atomic
def rules_reorder(*, actor: User, rule_ids: Sequence[int]) -> None:
    """Save a new order: the rules listed first are tried first."""
    _check_admin(actor)
    existing = {rule.pk: rule for rule in AssignmentRule.objects.select_for_update()}
    if set(rule_ids) != set(existing) or len(rule_ids) != len(existing):
        raise InvalidInput(errors={"rule_ids": [_("List every rule exactly once.")]})
    for position, rule_id in enumerate(rule_ids, start=1):
        rule = existing[rule_id]
        if rule.position != position:
            rule.position = position
            stamp(rule, actor=actor, reason=_("rules reordered"))
            rule.save(update_fields=["position", "updated_at"])


@transaction.atomic
def rule_move(*, actor: User, rule_id: int, up: bool) -> None:
    """Move a rule one place up or down (the order decides which rule wins)."""
    _check_admin(actor)
    ids = list(AssignmentRule.objects.order_by("position", "id").values_list("pk", flat=True))
    if rule_id not in ids:
        raise NotFound("assignment rule")
    index = ids.index(rule_id)
    target = index - 1 if up else index + 1
    if 0 <= target < len(ids):
        ids[index], ids[target] = ids[target], ids[index]
        rules_reorder(actor=actor, rule_ids=ids)
