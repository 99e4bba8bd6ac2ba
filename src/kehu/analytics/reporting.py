"""The contract every report of the analytics app keeps.

A report is a function ``build(user, filters) -> Report`` registered with ``registry.register``.
It reads through the one access gate (``Model.objects.visible_to(user)`` or the model's
``visible_parts``/``full_access_parts``), so a sales rep's report counts only what the rep sees,
and it sums sensitive amounts only over the rows whose amounts the user sees. The API
(``/api/v1/reports/{key}``), the page (``/analytics/reports/{key}/``) and the XLSX export all
render the same ``Report``, so the file holds the numbers of the page.

``ReportFilters`` is what every report is filterable by: a period (at most five years), a
department (with the departments below it), a rep, an industry and a region (a province or
city code, or one of the seven sales areas such as 华东).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kehu.core.access import is_admin, managed_department_ids
from kehu.core.days import day_start
from kehu.core.errors import InvalidInput, NotFound
from kehu.core.numbers import whole_number

MAX_PERIOD_DAYS = 5 * 366  # "a period of more than 5 years (422)": the longest five years
MAX_PERIOD_YEARS = 5
# Days outside these years are input errors: a period must be able to reach its previous one
# and the instant after its end without leaving the calendar (``date.max`` overflowed: a 500).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)

# The seven sales areas (大区) by the two-digit province prefix of the region code (GB/T 2260).
REGION_AREAS: dict[str, tuple[Promise, tuple[str, ...]]] = {
    "north": (_("North China (华北)"), ("11", "12", "13", "14", "15")),
    "northeast": (_("Northeast China (东北)"), ("21", "22", "23")),
    "east": (_("East China (华东)"), ("31", "32", "33", "34", "35", "36", "37")),
    "central": (_("Central China (华中)"), ("41", "42", "43")),
    "south": (_("South China (华南)"), ("44", "45", "46", "71", "81", "82")),
    "southwest": (_("Southwest China (西南)"), ("50", "51", "52", "53", "54")),
    "northwest": (_("Northwest China (西北)"), ("61", "62", "63", "64", "65")),
}


def region_prefixes(region: str) -> tuple[str, ...]:
    """The region-code prefixes a region filter stands for: an area's provinces, or the
    significant digits of a province ("310000" → "31") or city ("310100" → "3101") code."""
    if region in REGION_AREAS:
        return REGION_AREAS[region][1]
    code = region
    while code.endswith("00") and len(code) > 2:
        code = code[:-2]
    return (code,)


def code_lookup(field_name: str) -> str:
    """A foreign key to a code-keyed table (Industry, Region) as a lookup that takes
    ``startswith``: ``customer__region_id`` → ``customer__region__pk``. A key's ``_id`` takes
    only exact lookups (``startswith`` raised FieldError, a 500); through ``__pk`` Django
    still reads the key's own column, without a join."""
    return f"{field_name[:-3]}__pk" if field_name.endswith("_id") else field_name


def region_q(field_name: str, region: str) -> Q:
    """Rows whose region code (``field_name``, e.g. ``customer__region_id``) lies in ``region``."""
    condition = Q()
    for prefix in region_prefixes(region):
        condition |= Q(**{f"{code_lookup(field_name)}__startswith": prefix})
    return condition


@dataclass(frozen=True)
class ReportFilters:
    """Local days ``start``..``end`` (both included) and the optional narrowing filters."""

    start: date
    end: date
    department_id: int | None = None
    department_path: str = ""  # the department's materialised path, for "and below it"
    owner_id: int | None = None
    industry: str = ""  # an industry code; a section's divisions match too
    region: str = ""  # a region code or a REGION_AREAS key
    # ``industry`` and its divisions (a section "C" is stored on customers as "13"…"43"),
    # read once when the filters are made
    industry_codes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.industry and not self.industry_codes:
            from kehu.customers.models import Industry
            from kehu.customers.reference import codes_within

            codes = tuple(codes_within(Industry, self.industry)) or (self.industry,)
            object.__setattr__(self, "industry_codes", codes)

    @property
    def start_at(self) -> datetime:
        """The first instant of the period (local time)."""
        return day_start(self.start)

    @property
    def end_at(self) -> datetime:
        """The instant after the period: ``start_at <= t < end_at``."""
        return day_start(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> ReportFilters:
        """The same filters over the period of the same length just before this one (a
        quarter gives the previous quarter)."""
        if self.start.day == 1 and _is_month_end(self.end):
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            start = _add_months(self.start, -months)
            end = self.start - timedelta(days=1)
            return replace(self, start=start, end=end)
        return replace(
            self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1)
        )

    def between(self, field_name: str) -> Q:
        """``field_name`` (a timestamp) inside the period, as an index-friendly range."""
        return Q(**{f"{field_name}__gte": self.start_at, f"{field_name}__lt": self.end_at})

    def scope_q(self, owner_field: str = "owner", department_field: str = "department") -> Q:
        """The department (and below) and rep filters on a model's own columns."""
        condition = Q()
        if self.department_id is not None:
            condition &= Q(**{f"{department_field}__path__startswith": self.department_path})
        if self.owner_id is not None:
            condition &= Q(**{f"{owner_field}_id": self.owner_id})
        return condition

    def customer_q(self, customer: str = "customer__") -> Q:
        """The industry and region filters on the customer (``customer=""`` on Customer)."""
        condition = Q()
        if self.industry:
            condition &= Q(**{f"{customer}industry_id__in": self.industry_codes})
        if self.region:
            condition &= region_q(f"{customer}region_id", self.region)
        return condition

    def as_params(self) -> dict[str, str]:
        """The query-string form (``from``, ``to``, ``department``, ``owner``, …)."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.department_id is not None:
            params["department"] = str(self.department_id)
        if self.owner_id is not None:
            params["owner"] = str(self.owner_id)
        if self.industry:
            params["industry"] = self.industry
        if self.region:
            params["region"] = self.region
        return params


def _is_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _add_months(day: date, months: int, *, keep_day: bool = False) -> date:
    """The first of the month ``months`` after ``day``'s; with ``keep_day`` the same day of
    that month (the month's last day when it is shorter: 29 February + 12 months = 28 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    if not keep_day:
        return date(year, month, 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def quarter_of(day: date) -> tuple[date, date]:
    """The first and last day of ``day``'s quarter."""
    first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    last = _add_months(first, 3) - timedelta(days=1)
    return first, last


def default_period(today: date | None = None) -> tuple[date, date]:
    """The current quarter up to today."""
    today = today or timezone.localdate()
    return quarter_of(today)[0], today


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError as error:
        raise InvalidInput(errors={name: [str(_("Enter a date as YYYY-MM-DD."))]}) from error
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(errors={name: [str(_("Enter a date between 1900 and 2999."))]})
    return day


def _int(raw: str | None, name: str) -> int | None:
    """An id of the query string: not a whole number is 422; one beyond any id (``MAX_INT``)
    names no record, 404, instead of overflowing the database's integer (a 500)."""
    if raw is None or not str(raw).strip():
        return None
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidInput(errors={name: [str(_("Enter a whole number."))]})
    number = whole_number(text)
    if number is None:
        raise NotFound(name)
    return number


def too_long(start: date, end: date) -> bool:
    """A period of more than five years: ``end`` after the day before ``start`` + 5 years."""
    return end >= _add_months(start, 12 * MAX_PERIOD_YEARS, keep_day=True)


def parse_filters(*, user: Any, params: Mapping[str, str | None]) -> ReportFilters:
    """The filters of a query string, checked against the viewer's scope.

    422 for a date that is not one, an end before the start, a period of more than five years,
    an unknown industry or region; 404 for a department or rep outside the viewer's scope.
    """
    start, end = _day(params.get("from"), "from"), _day(params.get("to"), "to")
    if start is None or end is None:
        default_start, default_end = default_period()
        if start is None and end is not None:
            start = quarter_of(end)[0]
        start = start or default_start
        end = end or max(default_end, start)
    if end < start:
        raise InvalidInput(errors={"to": [str(_("The end is before the start."))]})
    if too_long(start, end):
        raise InvalidInput(errors={"to": [str(_("Choose a period of at most five years."))]})
    department_id = _int(params.get("department"), "department")
    owner_id = _int(params.get("owner"), "owner")
    path = _department_path(user, department_id) if department_id is not None else ""
    if owner_id is not None:
        _check_owner(user, owner_id)
    industry = (params.get("industry") or "").strip().upper()
    region = (params.get("region") or "").strip().lower()
    _check_reference(industry, region)
    return ReportFilters(start, end, department_id, path, owner_id, industry, region)


def _department_path(user: Any, department_id: int) -> str:
    """The path of a department the viewer answers for (an admin: any; a manager: theirs and
    below; anyone else: their own); 404 otherwise, so other departments do not leak."""
    from kehu.accounts.models import Department

    allowed = (
        is_admin(user)
        or department_id in managed_department_ids(user)
        or department_id == getattr(user, "department_id", None)
    )
    path = Department.objects.filter(pk=department_id).values_list("path", flat=True).first()
    if not allowed or path is None:
        raise NotFound("department")
    return path


def _check_owner(user: Any, owner_id: int) -> None:
    """A rep the viewer may report on: themselves, a member of a managed department, or
    anyone for an admin; 404 otherwise."""
    if owner_id == user.pk or is_admin(user):
        if get_user_model().objects.filter(pk=owner_id).exists():
            return
        raise NotFound("owner")
    departments = managed_department_ids(user)
    if not get_user_model().objects.filter(pk=owner_id, department_id__in=departments).exists():
        raise NotFound("owner")


def _check_reference(industry: str, region: str) -> None:
    from kehu.customers.models import Industry, Region

    if industry and not Industry.objects.filter(code=industry).exists():
        raise InvalidInput(errors={"industry": [str(_("Unknown industry code."))]})
    if region and region not in REGION_AREAS and not Region.objects.filter(code=region).exists():
        raise InvalidInput(errors={"region": [str(_("Unknown region code or area."))]})


# --- What a report answers --------------------------------------------------------------------

ColumnKind = str  # "text", "int", "money", "pct" (0-100), "days", "hours", "decimal"


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    kind: ColumnKind = "text"


@dataclass
class Table:
    """One table of a report; a sheet of its XLSX export."""

    key: str
    title: str | Promise
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str | Promise = ""


@dataclass
class Chart:
    """An ECharts chart as ``kehu/dashboard.js`` draws it: categories on the x axis, one or
    more series (``{"name", "type": "bar"|"line", "data", "stack"?, "axis"?}``)."""

    key: str
    title: str | Promise
    categories: list[str]
    series: list[dict[str, Any]]
    category_kind: str = ""  # "month" for months
    unit: str = ""

    def spec(self) -> dict[str, Any]:
        return {
            "categories": self.categories,
            "categoryKind": self.category_kind,
            "unit": self.unit,
            "series": self.series,
        }


@dataclass
class Report:
    key: str
    title: str | Promise
    filters: ReportFilters
    summary: list[tuple[str, str | Promise, Any, ColumnKind]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    amounts_masked: bool = False  # some amounts in scope were hidden from this viewer

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of ``GET /api/v1/reports/{key}``."""
        return {
            "key": self.key,
            "title": str(self.title),
            "filters": self.filters.as_params(),
            "summary": [
                {"key": key, "label": str(label), "value": _plain(value), "kind": kind}
                for key, label, value, kind in self.summary
            ],
            "tables": [
                {
                    "key": table.key,
                    "title": str(table.title),
                    "note": str(table.note),
                    "columns": [
                        {"key": c.key, "label": str(c.label), "kind": c.kind} for c in table.columns
                    ],
                    "rows": [{k: _plain(v) for k, v in row.items()} for row in table.rows],
                }
                for table in self.tables
            ],
            "charts": [
                {"key": chart.key, "title": str(chart.title), **chart.spec()}
                for chart in self.charts
            ],
            "amounts_masked": self.amounts_masked,
        }


def _plain(value: Any) -> Any:
    """JSON-ready: decimals as floats, days and instants as ISO text, lazy text as text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Promise):
        return str(value)
    return value


def share(part: int | float | Decimal, whole: int | float | Decimal) -> float | None:
    """``part`` as a percentage of ``whole`` (one decimal), None when ``whole`` is zero."""
    return round(100 * float(part) / float(whole), 1) if whole else None


ReportBuilder = Callable[[Any, ReportFilters], Report]
