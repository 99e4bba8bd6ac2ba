"""Setting targets (目标): create, change and delete, with every check of a target's input.

Who may set: an administrator any target; a manager the targets of the departments they
answer for and of the reps in them; a rep reads their own and their department's targets
but sets none. A rep's target carries the rep's department, so the manager above sees it.

A target's period follows its kind: a month, quarter or year fills the start and the end
from the start (any day in it); a custom period keeps both, at most five years. Two targets
on the same department or rep, measure and segment may not overlap in time (422 naming the
other one). The value is above zero, and whole for counted measures.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from kehu.accounts.models import Department
from kehu.analytics.models import Measure, Newness, PeriodKind, Target
from kehu.analytics.reporting import MAX_PERIOD_DAYS, REGION_AREAS, quarter_of
from kehu.core import audit
from kehu.core.access import is_admin, lock_editable, managed_department_ids
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version, validate
from kehu.customers.models import CustomerKind, EmployeesBand, Industry, Region

FIELDS = (
    "name",
    "period_kind",
    "start",
    "end",
    "department",
    "owner",
    "measure",
    "value",
    "industry",
    "region",
    "customer_kind",
    "size_bands",
    "newness",
    "parent",
    "notes",
)
COUNTED = frozenset({Measure.NEW_CUSTOMERS, Measure.WON_DEALS, Measure.LEADS_CONVERTED})
MAX_VALUE = Decimal("999999999999.99")


def may_set(user: Any) -> bool:
    """Admins and managers set targets; everyone else only reads them."""
    return bool(
        user.is_authenticated
        and (is_admin(user) or (getattr(user, "role", "") == "manager" and user.department_id))
    )


def _require_setter(user: Any, target_id: int | None = None) -> None:
    """403 for a role that sets no targets; 404 first when it does not even see the target."""
    if may_set(user):
        return
    if target_id is not None and not Target.objects.visible_to(user).filter(pk=target_id).exists():
        raise NotFound(_("target"))
    raise Forbidden(_("Only managers and administrators set targets."))


def period_of(kind: str, start: date) -> tuple[date, date]:
    """The month, quarter or year ``start`` lies in."""
    if kind == PeriodKind.MONTH:
        first = start.replace(day=1)
        return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])
    if kind == PeriodKind.QUARTER:
        return quarter_of(start)
    if kind == PeriodKind.YEAR:
        return date(start.year, 1, 1), date(start.year, 12, 31)
    raise ValueError(kind)


def _as_date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise InvalidInput(errors={name: [_("Enter a date as YYYY-MM-DD.")]}) from error


def _as_id(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    if hasattr(value, "pk"):
        return int(value.pk)
    try:
        return int(str(value))
    except ValueError as error:
        raise InvalidInput(errors={name: [_("Enter a whole number.")]}) from error


def _department_ok(actor: Any, department_id: int) -> Department:
    """A department the actor may set targets for; 404 outside their scope."""
    department = Department.objects.filter(pk=department_id).first()
    if department is None or not (
        is_admin(actor) or department_id in managed_department_ids(actor)
    ):
        raise NotFound(_("department"))
    return department


def _owner_ok(actor: Any, owner_id: int) -> Any:
    """A rep the actor may set targets for (an admin: anyone; a manager: the reps of their
    departments and themselves); 404 otherwise."""
    owner = get_user_model().objects.filter(pk=owner_id, is_active=True).first()
    if owner is None or not (
        is_admin(actor)
        or owner.pk == actor.pk
        or owner.department_id in managed_department_ids(actor)
    ):
        raise NotFound(_("rep"))
    return owner


def _clean(actor: Any, data: dict[str, Any], target: Target | None) -> dict[str, Any]:
    """The checked field values of ``data`` over ``target``'s (None: a new target)."""
    current: dict[str, Any] = (
        {name: getattr(target, name) for name in FIELDS if name not in _FKS}
        | {name: getattr(target, f"{name}_id") for name in _FKS}
        if target is not None
        else {}
    )
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise InvalidInput(errors={name: [_("Unknown field.")] for name in sorted(unknown)})
    merged = {**current, **data}
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {
        "name": str(merged.get("name") or "").strip()[:200],
        "notes": str(merged.get("notes") or "").strip()[:500],
    }

    kind = merged.get("period_kind") or PeriodKind.QUARTER
    if kind not in PeriodKind.values:
        errors["period_kind"] = [_("Choose month, quarter, year or custom.")]
    measure = merged.get("measure") or ""
    if measure not in Measure.values:
        errors["measure"] = [_("Choose what the target measures.")]
    start = _as_date(merged.get("start"), "start")
    end = _as_date(merged.get("end"), "end")
    # An end sent (or kept, for a custom period) before the start is refused, not corrected.
    end_checked = "end" in data or kind == PeriodKind.CUSTOM
    if start is None:
        errors["start"] = [_("Enter the first day of the period.")]
    elif end is not None and end < start and end_checked:
        errors["end"] = [_("The end is before the start.")]
    elif kind in (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR):
        start, end = period_of(kind, start)
    elif end is None:
        errors["end"] = [_("Enter the last day of a custom period.")]
    elif (end - start).days + 1 > MAX_PERIOD_DAYS:
        errors["end"] = [_("Choose a period of at most five years.")]
    out.update(period_kind=kind, start=start, end=end, measure=measure)

    value = merged.get("value")
    try:
        number = Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        errors["value"] = [_("Enter a number.")]
    elif number <= 0:
        errors["value"] = [_("The target value must be greater than zero.")]
    elif number > MAX_VALUE:
        errors["value"] = [_("The target value is too large.")]
    elif measure in COUNTED and number != number.to_integral_value():
        errors["value"] = [_("Enter a whole number for a count.")]
    out["value"] = number

    # The segment: each part optional.
    industry = str(merged.get("industry") or "").strip().upper()
    if industry and not Industry.objects.filter(code=industry).exists():
        errors["industry"] = [_("Unknown industry code.")]
    region = str(merged.get("region") or "").strip().lower()
    if region and region not in REGION_AREAS and not Region.objects.filter(code=region).exists():
        errors["region"] = [_("Unknown region code or area.")]
    customer_kind = str(merged.get("customer_kind") or "")
    if customer_kind and customer_kind not in CustomerKind.values:
        errors["customer_kind"] = [_("Choose a company or an individual.")]
    bands = merged.get("size_bands") or []
    if isinstance(bands, str):
        bands = [band for band in bands.split(",") if band]
    if not isinstance(bands, list | tuple) or not set(bands) <= set(EmployeesBand.values):
        errors["size_bands"] = [_("Choose company sizes from the list.")]
        bands = []
    newness = str(merged.get("newness") or "")
    if newness not in Newness.values:
        errors["newness"] = [_("Choose new, existing or any customers.")]
    elif newness and measure == Measure.NEW_CUSTOMERS:
        errors["newness"] = [_("New customers are new by definition: leave this empty.")]
    out.update(
        industry_id=industry or None,
        region=region,
        customer_kind=customer_kind,
        size_bands=sorted(set(bands), key=list(EmployeesBand.values).index),
        newness=newness,
    )
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)

    # Whose target: 404 for a department or rep outside the actor's scope.
    department_id = _as_id(merged.get("department"), "department")
    owner_id = _as_id(merged.get("owner"), "owner")
    owner = _owner_ok(actor, owner_id) if owner_id is not None else None
    if owner is not None:
        # A rep's target lives in the rep's department, where their manager sees it.
        department_id = owner.department_id
    if department_id is not None:
        _department_ok(actor, department_id)
    elif not is_admin(actor):
        raise InvalidInput(
            errors={"department": [_("Choose a department or a rep of your departments.")]}
        )
    out.update(department_id=department_id, owner_id=owner_id)

    parent_id = _as_id(merged.get("parent"), "parent")
    out["parent_id"] = None
    if parent_id is not None:
        parent = Target.objects.visible_to(actor).filter(pk=parent_id).first()
        if parent is None:
            raise NotFound(_("target"))
        if target is not None and parent.pk == target.pk:
            raise InvalidInput(errors={"parent": [_("A target cannot be part of itself.")]})
        if parent.measure != measure or parent.start > out["start"] or parent.end < out["end"]:
            raise InvalidInput(
                errors={"parent": [_("A part has the same measure and lies in its period.")]}
            )
        out["parent_id"] = parent.pk
    _check_overlap(out, target)
    return out


_FKS = ("department", "owner", "industry", "parent")


def _check_overlap(values: dict[str, Any], target: Target | None) -> None:
    """422 naming the target of the same scope, measure and segment whose period overlaps."""
    clash = Target.objects.filter(
        department_id=values["department_id"],
        owner_id=values["owner_id"],
        measure=values["measure"],
        industry_id=values["industry_id"],
        region=values["region"],
        customer_kind=values["customer_kind"],
        size_bands=values["size_bands"],
        newness=values["newness"],
        start__lte=values["end"],
        end__gte=values["start"],
    )
    if target is not None:
        clash = clash.exclude(pk=target.pk)
    other = clash.order_by("start").first()
    if other is not None:
        message = _(
            "“%(name)s” (%(start)s – %(end)s) already sets this measure for the same "
            "department or rep and segment in an overlapping period."
        ) % {"name": str(other), "start": other.start, "end": other.end}
        raise InvalidInput(message, errors={"start": [message]}, extra={"overlaps": other.pk})


@audit.audited("analytics.target_created")
@transaction.atomic
def target_create(*, actor: Any, data: dict[str, Any]) -> Target:
    _require_setter(actor)
    target = Target(**_clean(actor, data, None), created_by=actor)
    validate(target, exclude=["created_by"])
    stamp(target, actor=actor, reason=_("Target set"))
    target.save()
    return target


@audit.audited("analytics.target_changed", target="target_id", model="analytics.target")
@transaction.atomic
def target_update(
    *, actor: Any, target_id: int, data: dict[str, Any], version: int | None
) -> Target:
    """Change a target; a stale ``version`` is refused (409)."""
    _require_setter(actor, target_id)
    target = lock_editable(Target.objects.all(), actor, pk=target_id)
    check_version(target, version)
    for name, value in _clean(actor, data, target).items():
        setattr(target, name, value)
    validate(target, exclude=["created_by"])
    bump_version(target)
    stamp(target, actor=actor, reason=_("Target changed"))
    target.save()
    return target


@audit.audited("analytics.target_deleted", target="target_id", model="analytics.target")
@transaction.atomic
def target_delete(*, actor: Any, target_id: int) -> None:
    """Delete a target (its parts go with it)."""
    _require_setter(actor, target_id)
    target = lock_editable(Target.objects.all(), actor, pk=target_id)
    stamp(target, actor=actor, reason=_("Target deleted"))
    target.delete()


def editable_q(actor: Any) -> Q:
    """The targets ``actor`` may change (for the pages' buttons)."""
    if not may_set(actor):
        return Q(pk__in=[])
    return Target.access_policy.edit_filter(actor)
