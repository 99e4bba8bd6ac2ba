"""Writes of the team rules: cadence plans (跟进周期) and care dates (节日与关怀).

Who: admins every rule, company-wide (no department) or of any department; a manager the
rules of the departments they manage (their own and the ones below); other roles none (403).
A rule the manager sees but may not change (the company's, a higher department's) is 403,
one outside their scope 404 (``team_rules.TeamRulePolicy``).

Every write is checked field by field (422 naming the field), stamped with the actor and an
optional reason in the rule's change history, versioned (a stale ``version`` is 409), and a
cadence change re-plans the customers it reaches after the commit.

Care dates generated from the holiday calendar (public holidays, traditional festivals) are
the company's: they can be switched on and off, not moved, renamed or deleted (the daily
refresh would bring the original back); custom dates are free.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Department
from kehu.core import audit
from kehu.core.access import is_admin, lock_editable, managed_department_ids
from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version
from kehu.customers.models import CustomerStatus, Grade
from kehu.followups.models import CadencePlan, CareDate, CareKind
from kehu.followups.team_rules import is_rule_manager

MAX_INTERVAL_DAYS = 366
PLAN_FIELDS = ("name", "status", "grade", "interval_days", "action", "is_active", "department")
CARE_FIELDS = ("date", "name", "is_active", "department")
CARE_YEARS = 10  # how far before or after today a care date may lie
NOT_MANAGER = gettext_lazy("Only managers and administrators manage cadence plans and care dates.")


def may_manage(user: Any) -> bool:
    return is_rule_manager(user)


def require_manager(user: Any) -> None:
    """403 for a role that manages no rules (checked before any rule is looked up)."""
    if not may_manage(user):
        raise Forbidden(NOT_MANAGER)


def department_choices(user: Any) -> list[Department]:
    """The departments ``user`` may set rules for (admins: all)."""
    rows = Department.objects.order_by("path")
    if is_admin(user):
        return list(rows)
    return list(rows.filter(pk__in=managed_department_ids(user)))


def _department(actor: Any, value: Any, errors: dict[str, list[str]]) -> Department | None:
    if value in (None, ""):
        if not is_admin(actor):
            errors["department"] = [
                _("Choose one of your departments; only admins set rules for the whole company.")
            ]
        return None
    raw = value.pk if isinstance(value, Department) else value
    try:
        department_id = int(str(raw))
    except ValueError:
        errors["department"] = [_("Choose a department.")]
        return None
    department = Department.objects.filter(pk=department_id).first()
    if department is None or not (
        is_admin(actor) or department_id in managed_department_ids(actor)
    ):
        errors["department"] = [_("Choose one of your departments.")]
        return None
    return department


def _text(
    value: Any, name: str, limit: int, errors: dict[str, list[str]], *, required: bool
) -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        errors[name] = [_("This field is required.")]
    elif len(text) > limit:
        errors[name] = [_("At most %(limit)d characters.") % {"limit": limit}]
    return text


def _flag(value: Any, name: str, errors: dict[str, list[str]]) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "on", "yes"}:
        return True
    if text in {"0", "false", "off", "no", ""}:
        return False
    errors[name] = [_("Enter true or false.")]
    return False


def _unknown(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(errors={name: [_("Unknown field.")] for name in unknown})


# --- cadence plans ------------------------------------------------------------------------------


def _clean_plan(actor: Any, data: dict[str, Any], plan: CadencePlan | None) -> dict[str, Any]:
    _unknown(data, PLAN_FIELDS)
    current: dict[str, Any] = {}
    if plan is not None:
        current = {name: getattr(plan, name) for name in PLAN_FIELDS if name != "department"}
        current["department"] = plan.department_id
    merged = {**current, **data}
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {
        "name": _text(merged.get("name"), "name", 100, errors, required=True),
        "action": _text(merged.get("action"), "action", 300, errors, required=False),
        "is_active": _flag(merged.get("is_active", True), "is_active", errors),
    }
    status = str(merged.get("status") or "")
    if status not in ("", *CustomerStatus.values):
        errors["status"] = [_("Choose a customer status.")]
    grade = str(merged.get("grade") or "")
    if grade not in ("", *Grade.values):
        errors["grade"] = [_("Choose a grade.")]
    if not status and not grade and "status" not in errors and "grade" not in errors:
        errors["status"] = [_("Choose a customer status, a grade or both.")]
    values["status"], values["grade"] = status, grade
    raw_days = merged.get("interval_days")
    try:
        days = int(str(raw_days).strip())
    except ValueError:
        days = 0
        errors["interval_days"] = [_("Enter a whole number of days.")]
    else:
        if not 1 <= days <= MAX_INTERVAL_DAYS:
            errors["interval_days"] = [
                _("Enter a number of days from 1 to %(max)d.") % {"max": MAX_INTERVAL_DAYS}
            ]
    values["interval_days"] = days
    if plan is None or "department" in data:
        values["department"] = _department(actor, merged.get("department"), errors)
    else:
        values["department"] = plan.department
    if errors:
        raise InvalidInput(errors=errors)
    if values["is_active"]:
        twin = CadencePlan.objects.filter(
            is_active=True, status=status, grade=grade, department=values["department"]
        )
        if plan is not None:
            twin = twin.exclude(pk=plan.pk)
        found = twin.first()
        if found is not None:
            raise InvalidInput(
                errors={
                    "status": [
                        _(
                            "The active plan “%(name)s” already covers this status and grade "
                            "here; change it instead."
                        )
                        % {"name": found.name}
                    ]
                }
            )
    return values


def _replan_later(department: Department | None) -> None:
    """Re-plan the customers the plan reaches, after the commit (a job)."""
    from kehu.followups import tasks

    department_ids: list[int] | None = None
    if department is not None:
        department_ids = list(
            Department.objects.filter(path__startswith=department.path).values_list("pk", flat=True)
        )
    transaction.on_commit(lambda: tasks.replan_for_plans(department_ids))


@audit.audited("followups.cadence_plan_created")
@transaction.atomic
def cadence_plan_create(*, actor: Any, data: dict[str, Any], reason: str = "") -> CadencePlan:
    require_manager(actor)
    values = _clean_plan(actor, data, None)
    plan = CadencePlan(**values)
    stamp(plan, actor=actor, reason=reason.strip()[:100])
    plan.save()
    _replan_later(plan.department)
    return plan


@audit.audited("followups.cadence_plan_changed", target="plan_id", model="followups.cadenceplan")
@transaction.atomic
def cadence_plan_update(
    *,
    actor: Any,
    plan_id: int,
    data: dict[str, Any],
    version: int | None = None,
    reason: str = "",
) -> CadencePlan:
    require_manager(actor)
    # no select_related: PostgreSQL refuses FOR UPDATE on the nullable side of an outer join
    plan = lock_editable(CadencePlan.objects.all(), actor, pk=plan_id)
    check_version(plan, version)
    before = plan.department
    values = _clean_plan(actor, data, plan)
    for name, value in values.items():
        setattr(plan, name, value)
    bump_version(plan)
    stamp(plan, actor=actor, reason=reason.strip()[:100])
    plan.save()
    _replan_later(plan.department)
    if before is not None and before != plan.department:
        _replan_later(before)
    return plan


@audit.audited("followups.cadenceplan_deleted", target="plan_id", model="followups.cadenceplan")
@transaction.atomic
def cadence_plan_delete(*, actor: Any, plan_id: int, reason: str = "") -> None:
    """Delete a plan (its history stays); switching it off (``is_active``) keeps it."""
    require_manager(actor)
    # no select_related: PostgreSQL refuses FOR UPDATE on the nullable side of an outer join
    plan = lock_editable(CadencePlan.objects.all(), actor, pk=plan_id)
    stamp(plan, actor=actor, reason=reason.strip()[:100])
    department = plan.department
    plan.delete()
    _replan_later(department)


# --- care dates ---------------------------------------------------------------------------------


def _as_date(value: Any, errors: dict[str, list[str]]) -> date | None:
    if isinstance(value, date):
        day: date | None = value
    else:
        try:
            day = date.fromisoformat(str(value or "").strip())
        except ValueError:
            day = None
    if day is None:
        errors["date"] = [_("Enter a date as YYYY-MM-DD.")]
        return None
    today = timezone.localdate()
    if abs((day - today).days) > CARE_YEARS * 366:
        errors["date"] = [
            _("Enter a date within %(years)d years of today.") % {"years": CARE_YEARS}
        ]
        return None
    return day


def _clean_care(actor: Any, data: dict[str, Any], care: CareDate | None) -> dict[str, Any]:
    _unknown(data, CARE_FIELDS)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    generated = care is not None and care.kind != CareKind.CUSTOM
    if generated:
        assert care is not None
        for name in ("date", "name", "department"):
            if name not in data:
                continue
            current = care.department_id if name == "department" else getattr(care, name)
            given = data[name]
            if name == "date" and isinstance(given, str):
                given = _as_date(given, {}) or given
            if name == "department" and given not in (None, ""):
                given = int(given.pk if isinstance(given, Department) else str(given))
            if name == "department" and given == "":
                given = None
            if name == "name" and isinstance(given, str):
                given = given.strip()
            if given != current:
                errors[name] = [
                    _(
                        "Dates from the holiday calendar can only be switched on or off; "
                        "add a custom date instead."
                    )
                ]
        if "is_active" in data:
            values["is_active"] = _flag(data["is_active"], "is_active", errors)
        if errors:
            raise InvalidInput(errors=errors)
        return values
    stored: dict[str, Any] = {}
    if care is not None:
        stored = {"date": care.date, "name": care.name, "is_active": care.is_active}
        stored["department"] = care.department_id
    merged = {**stored, **data}
    values["name"] = _text(merged.get("name"), "name", 100, errors, required=True)
    values["date"] = _as_date(merged.get("date"), errors)
    values["is_active"] = _flag(merged.get("is_active", True), "is_active", errors)
    if care is None or "department" in data:
        values["department"] = _department(actor, merged.get("department"), errors)
    else:
        values["department"] = care.department
    if errors:
        raise InvalidInput(errors=errors)
    twin = CareDate.objects.filter(
        date=values["date"], name=values["name"], department=values["department"]
    )
    if care is not None:
        twin = twin.exclude(pk=care.pk)
    if twin.exists():
        raise InvalidInput(errors={"name": [_("This date already has a care date of that name.")]})
    return values


@audit.audited("followups.care_date_created")
@transaction.atomic
def care_date_create(*, actor: Any, data: dict[str, Any], reason: str = "") -> CareDate:
    """A custom care date: greeting tasks go to the owners of the department (or everyone's)."""
    require_manager(actor)
    values = _clean_care(actor, data, None)
    care = CareDate(kind=CareKind.CUSTOM, **values)
    stamp(care, actor=actor, reason=reason.strip()[:100])
    care.save()
    return care


@audit.audited("followups.care_date_changed", target="care_id", model="followups.caredate")
@transaction.atomic
def care_date_update(
    *,
    actor: Any,
    care_id: int,
    data: dict[str, Any],
    version: int | None = None,
    reason: str = "",
) -> CareDate:
    require_manager(actor)
    care = lock_editable(CareDate.objects.all(), actor, pk=care_id)
    check_version(care, version)
    for name, value in _clean_care(actor, data, care).items():
        setattr(care, name, value)
    bump_version(care)
    stamp(care, actor=actor, reason=reason.strip()[:100])
    care.save()
    return care


@audit.audited("followups.caredate_deleted", target="care_id", model="followups.caredate")
@transaction.atomic
def care_date_delete(*, actor: Any, care_id: int, reason: str = "") -> None:
    require_manager(actor)
    care = lock_editable(CareDate.objects.all(), actor, pk=care_id)
    if care.kind != CareKind.CUSTOM:
        raise InvalidInput(
            _("Dates from the holiday calendar cannot be deleted; switch them off instead."),
            code="care_date_generated",
            errors={"is_active": [_("Switch this date off instead of deleting it.")]},
        )
    stamp(care, actor=actor, reason=reason.strip()[:100])
    care.delete()


def care_date_window(days: int = 366) -> tuple[date, date]:
    """The default span of the care date list: this month to a year on."""
    today = timezone.localdate()
    start = today.replace(day=1)
    return start, start + timedelta(days=days)
