"""Segments (客户分群): the condition engine and every read of a segment's rows.

A dynamic segment's ``conditions`` is one group::

    {"match": "all" | "any", "conditions": [CONDITION | GROUP, ...]}
    CONDITION = {"field": "industry", "op": "in", "value": ["C"]}

Groups nest (``MAX_DEPTH``). ``validate(target, conditions)`` checks every field, operator
and value against ``FIELDS[target]`` and raises ``InvalidInput`` whose ``errors`` key is the
path of the bad part (``conditions.conditions[1].value``), so a 422 names it.
``compile_conditions`` turns a valid tree into one ``Q`` over the target model; the rows are
always read through the access gate (``segment_rows``): a condition only ever narrows what
the viewer sees.

Look-ups that a plain column cannot answer are subqueries on the customer's id (tags,
satisfaction, churn score), so a count is one SQL statement whatever the tree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Department, User
from kehu.analytics.models import CustomerScore
from kehu.campaigns.models import Segment, SegmentKind, SegmentTarget
from kehu.core import masking
from kehu.core.access import policy_of
from kehu.core.errors import InvalidInput
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerKind,
    CustomerStatus,
    EmployeesBand,
    Gender,
    Grade,
    Industry,
    Priority,
    Region,
    RevenueBand,
    Source,
    Tag,
)
from kehu.customers.selectors import contact_values, contacts_masked
from kehu.leads.models import Lead, LeadStatus, Urgency
from kehu.service.models import Survey

MAX_DEPTH = 5
MAX_CONDITIONS = 50
MAX_LIST = 200
MAX_DAYS = 36_500
MATCHES = ("all", "any")
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2100, 12, 31)

# --- value kinds --------------------------------------------------------------------------


class _Bad(Exception):
    """A value that does not fit its operator: the message says what was expected."""


def _choices(allowed: Sequence[str]) -> Callable[[Any], list[str]]:
    def parse(value: Any) -> list[str]:
        items = _string_list(value)
        wrong = [item for item in items if item not in allowed]
        if wrong:
            raise _Bad(
                _("Unknown value %(value)s; one of: %(allowed)s")
                % {"value": ", ".join(wrong), "allowed": ", ".join(allowed)}
            )
        return items

    return parse


def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _Bad(_("Expected a non-empty list of values."))
    if len(value) > MAX_LIST:
        raise _Bad(_("At most %(n)s values.") % {"n": MAX_LIST})
    if not all(isinstance(item, str) and 0 < len(item) <= 100 for item in value):
        raise _Bad(_("Expected a list of text values."))
    return list(dict.fromkeys(value))


def _id_list(value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise _Bad(_("Expected a non-empty list of ids."))
    if len(value) > MAX_LIST:
        raise _Bad(_("At most %(n)s values.") % {"n": MAX_LIST})
    if not all(type(item) is int and 0 < item < 2**31 for item in value):
        raise _Bad(_("Expected a list of whole numbers (ids)."))
    return list(dict.fromkeys(value))


def _days(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_DAYS:
        raise _Bad(_("Expected a whole number of days from 0 to %(max)s.") % {"max": MAX_DAYS})
    return int(value)


def _score(low: int, high: int) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if type(value) not in (int, float) or not low <= value <= high:
            raise _Bad(
                _("Expected a number from %(low)s to %(high)s.") % {"low": low, "high": high}
            )
        return float(value)

    return parse


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _Bad(_("Expected true or false."))
    return bool(value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise _Bad(_("Expected a text of 1 to 100 characters."))
    return value.strip()


def _date(value: Any) -> date:
    if not isinstance(value, str):
        raise _Bad(_("Expected a date (YYYY-MM-DD)."))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _Bad(_("Expected a date (YYYY-MM-DD).")) from None
    if not FIRST_DAY <= day <= LAST_DAY:  # far dates overflow once made aware and shifted
        raise _Bad(_("Expected a date from 1900 to 2100."))
    return day


def _date_range(value: Any) -> tuple[date, date]:
    if not isinstance(value, list) or len(value) != 2:
        raise _Bad(_("Expected two dates [from, to] (YYYY-MM-DD)."))
    start, end = _date(value[0]), _date(value[1])
    if start > end:
        raise _Bad(_("The first date must not be after the second."))
    return start, end


def _nothing(value: Any) -> None:
    if value not in (None, True, [], ""):
        raise _Bad(_("This operator takes no value."))
    return None


# --- fields ---------------------------------------------------------------------------------

# A compiler gets (op, parsed value, prefix to the customer: "" or "customer__") -> Q
Compiler = Callable[[str, Any, str], Q]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: Any
    ops: dict[str, Callable[[Any], Any]]
    compile: Compiler
    # the values a choice field takes, for the builder's pickers (value, label)
    choices: Callable[[], list[tuple[str, str]]] | None = None
    kind: str = "choice"  # choice | tree | ids | days | date | score | bool | text
    group: Any = field(default="")


def _in(column: str) -> Compiler:
    def compile(op: str, value: Any, prefix: str) -> Q:
        q = Q(**{f"{prefix}{column}__in": value})
        return ~q if op == "not_in" else q

    return compile


def _choice_field(
    name: str, label: Any, column: str, options: Any, *, group: Any = ""
) -> FieldSpec:
    values = [str(value) for value, _label in options.choices]
    parse = _choices(values)
    return FieldSpec(
        name,
        label,
        {"in": parse, "not_in": parse},
        _in(column),
        choices=lambda: [(str(v), str(lab)) for v, lab in options.choices],
        group=group,
    )


def _grade(op: str, value: Any, prefix: str) -> Q:
    q = Q(**{f"{prefix}grade_override__in": value}) | (
        Q(**{f"{prefix}grade_override": ""}) & Q(**{f"{prefix}grade__in": value})
    )
    return ~q if op == "not_in" else q


def _tree_codes(model: Any, parent_field: str) -> Callable[[Any], list[str]]:
    def parse(value: Any) -> list[str]:
        codes = _string_list(value)
        known = set(model.objects.filter(code__in=codes).values_list("code", flat=True))
        wrong = [code for code in codes if code not in known]
        if wrong:
            raise _Bad(_("Unknown code %(value)s.") % {"value": ", ".join(wrong)})
        below = model.objects.filter(**{f"{parent_field}__in": codes}).values_list(
            "code", flat=True
        )
        return sorted({*codes, *below})

    return parse


def _tree_field(name: str, label: Any, column: str, model: Any, parent: str) -> FieldSpec:
    parse = _tree_codes(model, parent)
    return FieldSpec(
        name,
        label,
        {"in": parse, "not_in": parse},
        _in(column),
        kind="tree",
        choices=lambda: [(row.code, str(row)) for row in model.objects.select_related("parent")],
    )


def _tag_names(value: Any) -> list[int]:
    names = _string_list(value)
    found = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    wrong = [name for name in names if name not in found]
    if wrong:
        raise _Bad(_("Unknown tag %(value)s.") % {"value": ", ".join(wrong)})
    return [found[name] for name in names]


def _tags(op: str, value: list[int], prefix: str) -> Q:
    through = Customer.tags.through
    key = OuterRef("customer_id" if prefix else "pk")
    if op == "all_of":
        q = Q()
        for tag_id in value:
            q &= Q(Exists(through.objects.filter(customer_id=key, tag_id=tag_id)))
        return q
    any_of = Q(Exists(through.objects.filter(customer_id=key, tag_id__in=value)))
    return ~any_of if op == "none_of" else any_of


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _moment(column: str, *, never_matches_older: bool = True) -> Compiler:
    """Conditions on a date-time column: within N days, more than N days ago (or never),
    between two dates (inclusive), never."""

    def compile(op: str, value: Any, prefix: str) -> Q:
        path = f"{prefix}{column}"
        today = timezone.localdate()
        if op == "within_days":
            return Q(**{f"{path}__gte": _start_of(today - timedelta(days=value))})
        if op == "older_than_days":
            older = Q(**{f"{path}__lt": _start_of(today - timedelta(days=value))})
            return older | Q(**{f"{path}__isnull": True}) if never_matches_older else older
        if op == "between":
            start, end = value
            return Q(
                **{f"{path}__gte": _start_of(start), f"{path}__lt": _start_of(end + timedelta(1))}
            )
        if op == "before":
            return Q(**{f"{path}__lt": _start_of(value)})
        if op == "after":
            return Q(**{f"{path}__gte": _start_of(value + timedelta(1))})
        return Q(**{f"{path}__isnull": True})  # never

    return compile


MOMENT_OPS: dict[str, Callable[[Any], Any]] = {
    "within_days": _days,
    "older_than_days": _days,
    "between": _date_range,
    "before": _date,
    "after": _date,
}


def _users(value: Any) -> list[int]:
    ids = _id_list(value)
    known = set(User.objects.filter(pk__in=ids).values_list("pk", flat=True))
    wrong = [str(pk) for pk in ids if pk not in known]
    if wrong:
        raise _Bad(_("Unknown user %(value)s.") % {"value": ", ".join(wrong)})
    return ids


def _departments(value: Any) -> list[int]:
    """The departments and every department below them (their materialised paths)."""
    ids = _id_list(value)
    rows = list(Department.objects.filter(pk__in=ids).values_list("pk", "path"))
    wrong = [str(pk) for pk in ids if pk not in {row[0] for row in rows}]
    if wrong:
        raise _Bad(_("Unknown department %(value)s.") % {"value": ", ".join(wrong)})
    below: set[int] = set(ids)
    paths = Q()
    for _pk, path in rows:
        if path:
            paths |= Q(path__startswith=path)
    if paths:
        below |= set(Department.objects.filter(paths).values_list("pk", flat=True))
    return sorted(below)


def _satisfaction(op: str, value: float, prefix: str) -> Q:
    key = f"{prefix}id__in"
    answered = Survey.objects.filter(answered_at__isnull=False, score__isnull=False)
    if op.startswith("average"):
        averages = (
            answered.order_by()
            .values("customer_id")
            .annotate(average=Avg("score"))
            .filter(**{f"average__{'gte' if op == 'average_gte' else 'lte'}": value})
            .values("customer_id")
        )
        return Q(**{key: averages})
    newer = answered.filter(
        customer_id=OuterRef("customer_id"), answered_at__gt=OuterRef("answered_at")
    )
    latest = answered.filter(~Exists(newer)).filter(
        **{f"score__{'gte' if op == 'latest_gte' else 'lte'}": value}
    )
    return Q(**{key: latest.values("customer_id")})


def _churn(op: str, value: float, prefix: str) -> Q:
    scores = CustomerScore.objects.filter(
        **{f"churn_score__{'gte' if op == 'gte' else 'lte'}": value}
    ).values("customer_id")
    return Q(**{f"{prefix}id__in": scores})


def _text_contains(column: str) -> Compiler:
    def compile(op: str, value: str, prefix: str) -> Q:
        return Q(**{f"{column}__icontains": value})

    return compile


def _flag(column: str) -> Compiler:
    def compile(op: str, value: bool, prefix: str) -> Q:
        return Q(**{column: value})

    return compile


def _has(column: str) -> Compiler:
    def compile(op: str, value: bool, prefix: str) -> Q:
        filled = ~Q(**{column: ""})
        return filled if value else ~filled

    return compile


def _name_contains(op: str, value: str, prefix: str) -> Q:
    return Q(**{f"{prefix}name__icontains": value})


def _owner(column: str) -> Compiler:
    def compile(op: str, value: Any, prefix: str) -> Q:
        if op == "none":
            return Q(**{f"{prefix}{column}__isnull": True})
        q = Q(**{f"{prefix}{column}__in": value})
        return ~q if op == "not_in" else q

    return compile


WHO = gettext_lazy("Customer")
CONTACT = gettext_lazy("Contact")
LEAD = gettext_lazy("Lead")


def _customer_fields() -> list[FieldSpec]:
    score_1_5 = _score(1, 5)
    return [
        FieldSpec(
            "tags",
            gettext_lazy("Tags"),
            {"any_of": _tag_names, "all_of": _tag_names, "none_of": _tag_names},
            _tags,
            choices=lambda: [(name, name) for name in Tag.objects.values_list("name", flat=True)],
        ),
        _choice_field("status", gettext_lazy("Status"), "status", CustomerStatus),
        FieldSpec(
            "grade",
            gettext_lazy("Grade"),
            {"in": _choices(list(Grade.values)), "not_in": _choices(list(Grade.values))},
            _grade,
            choices=lambda: [(str(v), str(lab)) for v, lab in Grade.choices],
        ),
        _tree_field("industry", gettext_lazy("Industry"), "industry_id", Industry, "parent_id"),
        _tree_field("region", gettext_lazy("Region"), "region_id", Region, "parent_id"),
        _choice_field("employees", gettext_lazy("Employees"), "employees_band", EmployeesBand),
        _choice_field("revenue", gettext_lazy("Annual revenue"), "revenue_band", RevenueBand),
        _choice_field("source", gettext_lazy("Source"), "source", Source),
        _choice_field("customer_kind", gettext_lazy("Kind"), "kind", CustomerKind),
        _choice_field("priority", gettext_lazy("Priority"), "priority", Priority),
        FieldSpec(
            "last_contact",
            gettext_lazy("Last contact"),
            {**MOMENT_OPS, "never": _nothing},
            _moment("last_contact_at"),
            kind="moment",
        ),
        FieldSpec(
            "created",
            gettext_lazy("Created"),
            dict(MOMENT_OPS),
            _moment("created_at", never_matches_older=False),
            kind="moment",
        ),
        FieldSpec(
            "owner",
            gettext_lazy("Owner"),
            {"in": _users, "not_in": _users, "none": _nothing},
            _owner("owner_id"),
            kind="ids",
        ),
        FieldSpec(
            "department",
            gettext_lazy("Department"),
            {"in": _departments, "not_in": _departments},
            _in("department_id"),
            kind="ids",
        ),
        FieldSpec(
            "satisfaction",
            gettext_lazy("Satisfaction (1-5)"),
            {
                "latest_gte": score_1_5,
                "latest_lte": score_1_5,
                "average_gte": score_1_5,
                "average_lte": score_1_5,
            },
            _satisfaction,
            kind="score",
        ),
        FieldSpec(
            "churn_score",
            gettext_lazy("Churn risk score (0-100)"),
            {"gte": _score(0, 100), "lte": _score(0, 100)},
            _churn,
            kind="score",
        ),
        FieldSpec(
            "customer_name",
            gettext_lazy("Customer name"),
            {"contains": _text},
            _name_contains,
            kind="text",
        ),
    ]


def _contact_fields() -> list[FieldSpec]:
    return [
        FieldSpec(
            "decision_maker",
            gettext_lazy("Decision maker"),
            {"is": _bool},
            _flag("is_decision_maker"),
            kind="bool",
            group=CONTACT,
        ),
        FieldSpec(
            "primary",
            gettext_lazy("Primary contact"),
            {"is": _bool},
            _flag("is_primary"),
            kind="bool",
            group=CONTACT,
        ),
        FieldSpec(
            "active",
            gettext_lazy("Still at the customer"),
            {"is": _bool},
            _flag("is_active"),
            kind="bool",
            group=CONTACT,
        ),
        FieldSpec(
            "title",
            gettext_lazy("Title"),
            {"contains": _text},
            _text_contains("title"),
            kind="text",
            group=CONTACT,
        ),
        FieldSpec(
            "has_email",
            gettext_lazy("Has an e-mail"),
            {"is": _bool},
            _has("email"),
            kind="bool",
            group=CONTACT,
        ),
        FieldSpec(
            "has_mobile",
            gettext_lazy("Has a mobile"),
            {"is": _bool},
            _has("mobile"),
            kind="bool",
            group=CONTACT,
        ),
        FieldSpec(
            "gender",
            gettext_lazy("Form of address"),
            {"in": _choices(list(Gender.values))},
            _in("gender"),
            choices=lambda: [(str(v), str(lab)) for v, lab in Gender.choices],
            group=CONTACT,
        ),
    ]


def _lead_fields() -> list[FieldSpec]:
    return [
        _choice_field("lead_status", gettext_lazy("Lead status"), "status", LeadStatus),
        _choice_field("source", gettext_lazy("Source"), "source", Source),
        _choice_field("priority", gettext_lazy("Priority"), "priority", Priority),
        _choice_field("urgency", gettext_lazy("Urgency"), "urgency", Urgency),
        _tree_field("industry", gettext_lazy("Industry"), "industry_id", Industry, "parent_id"),
        _tree_field("region", gettext_lazy("Region"), "region_id", Region, "parent_id"),
        FieldSpec(
            "created",
            gettext_lazy("Created"),
            dict(MOMENT_OPS),
            _moment("created_at", never_matches_older=False),
            kind="moment",
        ),
        FieldSpec(
            "assignee",
            gettext_lazy("Assignee"),
            {"in": _users, "not_in": _users, "none": _nothing},
            _owner("assignee_id"),
            kind="ids",
        ),
        FieldSpec(
            "department",
            gettext_lazy("Department"),
            {"in": _departments, "not_in": _departments},
            _in("department_id"),
            kind="ids",
        ),
        FieldSpec(
            "has_email",
            gettext_lazy("Has an e-mail"),
            {"is": _bool},
            _has("email"),
            kind="bool",
        ),
        FieldSpec(
            "has_mobile",
            gettext_lazy("Has a mobile"),
            {"is": _bool},
            _has("mobile"),
            kind="bool",
        ),
        FieldSpec(
            "company_name",
            gettext_lazy("Company name"),
            {"contains": _text},
            _text_contains("company_name"),
            kind="text",
        ),
    ]


def _by_name(specs: list[FieldSpec]) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in specs}


FIELDS: dict[str, dict[str, FieldSpec]] = {
    SegmentTarget.CUSTOMERS: _by_name(_customer_fields()),
    SegmentTarget.CONTACTS: _by_name([*_customer_fields(), *_contact_fields()]),
    SegmentTarget.LEADS: _by_name(_lead_fields()),
}
# Contacts' own fields are columns of the contact; customer fields go through its customer
CONTACT_OWN = {spec.name for spec in _contact_fields()}

OP_LABELS: dict[str, Any] = {
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "any_of": gettext_lazy("has any of"),
    "all_of": gettext_lazy("has all of"),
    "none_of": gettext_lazy("has none of"),
    "within_days": gettext_lazy("within the last N days"),
    "older_than_days": gettext_lazy("more than N days ago (or never)"),
    "between": gettext_lazy("between"),
    "before": gettext_lazy("before"),
    "after": gettext_lazy("after"),
    "never": gettext_lazy("never"),
    "none": gettext_lazy("has none"),
    "latest_gte": gettext_lazy("latest at least"),
    "latest_lte": gettext_lazy("latest at most"),
    "average_gte": gettext_lazy("average at least"),
    "average_lte": gettext_lazy("average at most"),
    "gte": gettext_lazy("at least"),
    "lte": gettext_lazy("at most"),
    "contains": gettext_lazy("contains"),
    "is": gettext_lazy("is"),
}


# --- validation and compilation ------------------------------------------------------------


@dataclass
class _Walk:
    target: str
    count: int = 0


def _fail(path: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={path: [message]})


def validate(target: str, conditions: Any, *, path: str = "conditions") -> dict[str, Any]:
    """The tree, checked: every field known for ``target``, every operator known for its
    field, every value of the operator's type. Raises ``InvalidInput`` naming the path."""
    if target not in FIELDS:
        raise _fail("target", _("Unknown target %(value)s.") % {"value": target})
    if conditions in (None, {}):
        return {"match": "all", "conditions": []}
    walk = _Walk(target)
    _check_group(conditions, path, 1, walk)
    return dict(conditions)


def _check_group(group: Any, path: str, depth: int, walk: _Walk) -> None:
    if not isinstance(group, dict):
        raise _fail(path, _('Expected a group: {"match": "all"|"any", "conditions": [...]}.'))
    unknown = set(group) - {"match", "conditions"}
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(f"{path}.{key}", _("Unknown key %(key)s.") % {"key": key})
    if group.get("match", "all") not in MATCHES:
        raise _fail(f"{path}.match", _('Expected "all" or "any".'))
    if depth > MAX_DEPTH:
        raise _fail(path, _("Groups nest at most %(n)s deep.") % {"n": MAX_DEPTH})
    items = group.get("conditions", [])
    if not isinstance(items, list):
        raise _fail(f"{path}.conditions", _("Expected a list of conditions."))
    for index, item in enumerate(items):
        here = f"{path}.conditions[{index}]"
        if (
            isinstance(item, dict)
            and "field" not in item
            and ("conditions" in item or "match" in item)
        ):
            _check_group(item, here, depth + 1, walk)
        else:
            walk.count += 1
            if walk.count > MAX_CONDITIONS:
                raise _fail(here, _("At most %(n)s conditions.") % {"n": MAX_CONDITIONS})
            _check_condition(item, here, walk.target)


def _check_condition(item: Any, path: str, target: str) -> Any:
    if not isinstance(item, dict):
        raise _fail(path, _('Expected a condition: {"field", "op", "value"}.'))
    unknown = set(item) - {"field", "op", "value"}
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(f"{path}.{key}", _("Unknown key %(key)s.") % {"key": key})
    name = item.get("field")
    spec = FIELDS[target].get(name) if isinstance(name, str) else None
    if spec is None:
        raise _fail(
            f"{path}.field",
            _("Unknown field %(field)s for %(target)s.")
            % {"field": str(name)[:60], "target": target},
        )
    op = item.get("op")
    if not isinstance(op, str) or op not in spec.ops:
        raise _fail(
            f"{path}.op",
            _("Unknown operator %(op)s for %(field)s; one of: %(ops)s")
            % {"op": str(op)[:30], "field": name, "ops": ", ".join(spec.ops)},
        )
    try:
        return spec.ops[op](item.get("value"))
    except _Bad as error:
        raise _fail(f"{path}.value", f"{name}: {error}") from None


def compile_conditions(target: str, conditions: Any) -> Q:
    """One ``Q`` over the target's model for a tree (validated on the way: raises
    ``InvalidInput`` like ``validate``)."""
    validate(target, conditions)
    if not conditions:
        return Q()
    return _compile_group(target, conditions, "conditions")


def _compile_group(target: str, group: dict[str, Any], path: str) -> Q:
    parts: list[Q] = []
    for index, item in enumerate(group.get("conditions", [])):
        here = f"{path}.conditions[{index}]"
        if "field" not in item:
            parts.append(_compile_group(target, item, here))
            continue
        value = _check_condition(item, here, target)
        spec = FIELDS[target][item["field"]]
        prefix = (
            "customer__"
            if target == SegmentTarget.CONTACTS and spec.name not in CONTACT_OWN
            else ""
        )
        parts.append(spec.compile(item["op"], value, prefix))
    if not parts:
        return Q()
    combined = parts[0]
    for part in parts[1:]:
        combined = combined | part if group.get("match", "all") == "any" else combined & part
    return combined


# --- reading a segment's rows ------------------------------------------------------------------


def segment_list(*, user: Any) -> QuerySet[Segment]:
    return Segment.objects.visible_to(user).select_related("owner", "department")


def segment_get(*, user: Any, segment_id: int) -> Segment | None:
    return segment_list(user=user).filter(pk=segment_id).first()


def _scoped(target: str, user: Any) -> QuerySet[Any]:
    if target == SegmentTarget.CUSTOMERS:
        return Customer.objects.visible_to(user)
    if target == SegmentTarget.CONTACTS:
        return Contact.objects.filter(
            customer_id__in=Customer.objects.visible_to(user).order_by().values("pk")
        )
    return Lead.objects.visible_to(user)


ENTRY_COLUMN: dict[str, str] = {
    SegmentTarget.CUSTOMERS: "customer_id",
    SegmentTarget.CONTACTS: "contact_id",
    SegmentTarget.LEADS: "lead_id",
}


def rows_for(target: str, conditions: Any, user: Any) -> QuerySet[Any]:
    """Rows of an unsaved tree (the builder's live count), through the access gate."""
    return _scoped(target, user).filter(compile_conditions(target, conditions))


def segment_rows(segment: Segment, user: Any) -> QuerySet[Any]:
    """The segment's rows of its target model that ``user`` sees: a dynamic segment's
    conditions, a static list's entries; either way scoped by ``visible_to(user)``."""
    scoped = _scoped(segment.target, user)
    if segment.kind == SegmentKind.STATIC:
        column = ENTRY_COLUMN[segment.target]
        return scoped.filter(pk__in=segment.entries.order_by().values(column))
    return scoped.filter(compile_conditions(segment.target, segment.conditions))


def segment_count(segment: Segment, user: Any) -> int:
    return segment_rows(segment, user).order_by().count()


def segment_people(
    segment: Segment, user: Any, *, primary_only: bool = False
) -> tuple[QuerySet[Contact], QuerySet[Lead]]:
    """Whom a campaign reaches through the segment: contacts and leads.

    A customers segment gives its customers' active contacts (or only their primary ones); a
    contacts segment its contacts (the primary ones only, if asked); a leads segment its leads.
    """
    rows = segment_rows(segment, user).order_by()
    if segment.target == SegmentTarget.LEADS:
        return Contact.objects.none(), rows
    if segment.target == SegmentTarget.CUSTOMERS:
        contacts = Contact.objects.filter(customer_id__in=rows.values("pk"), is_active=True)
    else:
        contacts = rows
    if primary_only:
        contacts = contacts.filter(is_primary=True)
    return contacts, Lead.objects.none()


def field_catalogue(target: str) -> list[dict[str, Any]]:
    """The fields of a target for the builder and the API: name, label, kind, operators and,
    for choice fields, their values."""
    out = []
    for spec in FIELDS[target].values():
        out.append(
            {
                "name": spec.name,
                "label": str(spec.label),
                "kind": spec.kind,
                "group": str(spec.group or ""),
                "ops": [{"op": op, "label": str(OP_LABELS[op])} for op in spec.ops],
                "choices": spec.choices() if spec.choices else [],
            }
        )
    return out


# --- preview ----------------------------------------------------------------------------------

PREVIEW_ROWS = 50


def preview(
    target: str, rows: QuerySet[Any], user: Any, *, limit: int = PREVIEW_ROWS
) -> list[dict[str, Any]]:
    """The first rows as the viewer may read them: contact values masked unless the viewer has
    full access to the customer (or the lead), as every other list masks them. A fixed number
    of queries whatever the rows."""
    if target == SegmentTarget.CUSTOMERS:
        customers = rows.select_related("owner", "industry", "region").order_by("-id")[:limit]
        return [
            {
                "id": row.pk,
                "kind": "customer",
                "name": row.name,
                "detail": row.number,
                "status": row.get_status_display(),
                "owner": str(row.owner) if row.owner_id else "",
                "region": row.region.name if row.region_id else "",
                "industry": row.industry.name if row.industry_id else "",
                "last_contact_at": row.last_contact_at,
                "mobile": "",
                "email": "",
                "masked": False,
            }
            for row in customers
        ]
    if target == SegmentTarget.CONTACTS:
        contacts = rows.select_related("customer", "customer__owner").order_by("-id")[:limit]
        out = []
        for row in contacts:
            values = contact_values(user, row)
            masked = contacts_masked(user, row.customer)
            out.append(
                {
                    "id": row.pk,
                    "kind": "contact",
                    "name": row.name,
                    "detail": row.title,
                    "status": row.customer.name,
                    "owner": str(row.customer.owner) if row.customer.owner_id else "",
                    "region": "",
                    "industry": "",
                    "last_contact_at": row.customer.last_contact_at,
                    "mobile": values.get("mobile", ""),
                    "email": values.get("email", ""),
                    "masked": masked,
                }
            )
        return out
    leads = rows.select_related("assignee").order_by("-id")[:limit]
    policy = policy_of(Lead)
    out = []
    for row in leads:
        masked = not policy.has_full_access(user, row)
        out.append(
            {
                "id": row.pk,
                "kind": "lead",
                "name": row.contact_name,
                "detail": row.company_name,
                "status": row.get_status_display(),
                "owner": str(row.assignee) if row.assignee_id else "",
                "region": "",
                "industry": "",
                "last_contact_at": row.first_contact_at,
                "mobile": masking.mask_mobile(row.mobile) if masked else row.mobile,
                "email": masking.mask_email(row.email) if masked else row.email,
                "masked": masked,
            }
        )
    return out


def entry_rows(target: str, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """A static list's rows for its entries page: what names them, no contact values."""
    if target == SegmentTarget.CUSTOMERS:
        return [{"id": r.pk, "kind": "customer", "name": r.name, "detail": r.number} for r in rows]
    if target == SegmentTarget.CONTACTS:
        return [{"id": r.pk, "kind": "contact", "name": r.name, "detail": r.title} for r in rows]
    return [
        {"id": r.pk, "kind": "lead", "name": r.contact_name, "detail": r.company_name} for r in rows
    ]
