"""The business calendar the SLA clock runs on: working hours, working days, holidays, 调休.

A day is a business day when a ``CalendarEntry`` says so (a make-up working day, 调休上班) or,
without an entry, when its weekday is one of the working days; a holiday entry makes any day
free. Within a business day the clock runs from ``service.work_start`` to ``service.work_end``
(local time, ``KEHU_TIME_ZONE``), less the optional lunch break. All are admin-editable
settings (``kehu.core.config``).

The entries of a year are read in one query and kept per process; a change through the
services below clears the copy of this process at once and, through a version stamp in the
shared cache, the copies of the other processes within ``VERSION_CHECK_SECONDS``. The clock
walks day by day, never minute by minute: a year of business minutes is some 500 steps.

Public holidays and 调休 come from the ``holidays`` package (``holidays.China``): its
entries are the days off (statutory days, observed days and the weekdays given off in
exchange for a weekend day), and its ``weekend_workdays`` the weekend days worked in exchange
(调休上班), both from the State Council's notices as the package records them.
"""

from __future__ import annotations

import logging
import re
import time as monotonic_clock
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, config
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput
from kehu.service.models import CalendarDayKind, CalendarEntry

if TYPE_CHECKING:
    from kehu.accounts.models import User

logger = logging.getLogger(__name__)

WEEKDAYS = (
    (1, gettext_lazy("Monday")),
    (2, gettext_lazy("Tuesday")),
    (3, gettext_lazy("Wednesday")),
    (4, gettext_lazy("Thursday")),
    (5, gettext_lazy("Friday")),
    (6, gettext_lazy("Saturday")),
    (7, gettext_lazy("Sunday")),
)
WORK_START = config.define(
    "service.work_start",
    "09:00",
    gettext_lazy("Service business day starts (HH:MM)"),
    unit=config.TIME_OF_DAY,
    check=config.time_of_day,
    help=gettext_lazy("Service SLAs count business time only: from this time on working days."),
)
WORK_END = config.define(
    "service.work_end",
    "18:00",
    gettext_lazy("Service business day ends (HH:MM)"),
    unit=config.TIME_OF_DAY,
    check=config.time_of_day,
    help=gettext_lazy("Service SLAs stop counting at this time; it must be after the start."),
)
LUNCH_START = config.define(
    "service.lunch_start",
    "",
    gettext_lazy("Service lunch break starts (HH:MM, empty: none)"),
    unit=config.TIME_OF_DAY,
    check=config.time_of_day_or_blank,
    help=gettext_lazy("A lunch break not counted in SLAs; leave both ends empty for none."),
)
LUNCH_END = config.define(
    "service.lunch_end",
    "",
    gettext_lazy("Service lunch break ends (HH:MM, empty: none)"),
    unit=config.TIME_OF_DAY,
    check=config.time_of_day_or_blank,
    help=gettext_lazy("End of the lunch break; it must lie within the working day."),
)
WORK_DAYS = config.define(
    "service.work_days",
    [1, 2, 3, 4, 5],
    gettext_lazy("Service working days of the week (1 = Monday … 7 = Sunday)"),
    minimum=1,
    maximum=7,
    choices=WEEKDAYS,
    check=config.not_empty,
    help=gettext_lazy(
        "Days of the week worked; public holidays and substituted working days come from the "
        "business calendar."
    ),
)
HOLIDAY_YEARS_AHEAD = config.define(
    "service.holiday_years_ahead",
    1,
    gettext_lazy("Years ahead whose public holidays the business calendar loads"),
    unit=config.YEARS,
    minimum=0,
    maximum=5,
    help=gettext_lazy(
        "The calendar loads China's public holidays for the current year and this many years ahead."
    ),
)

SOURCE_MANUAL = "manual"
SOURCE_PACKAGE = "holidays"
VERSION_KEY = "service:calendar:version"
# Tests clear the shared cache between tests (and roll the entries back): they check every time.
VERSION_CHECK_SECONDS = 0.0 if settings.TESTING else 5.0
MAX_ENTRY_DAYS = 366
# No calendar walks further than this: a calendar without a single business day would
# otherwise never reach its due time.
MAX_WALK_DAYS = 366 * 30
END_BEFORE_START = gettext_lazy("The last day must not be before the first day.")
RANGE_TOO_LONG = gettext_lazy("Ask for at most ten years at a time.")
YEARS_OUT_OF_RANGE = gettext_lazy("Years from 2000 to 2100 only.")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


# --- working hours ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingHours:
    spans: tuple[tuple[time, time], ...]  # the working spans of a business day, in order
    days: frozenset[int]  # ISO weekdays (1 = Monday) that are business days by default

    @property
    def minutes_per_day(self) -> int:
        return sum(_minutes(end) - _minutes(start) for start, end in self.spans)


DEFAULT_HOURS = WorkingHours(spans=((time(9), time(18)),), days=frozenset({1, 2, 3, 4, 5}))


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def parse_hhmm(value: Any) -> time | None:
    match = _HHMM.match(str(value or "").strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def working_hours() -> WorkingHours:
    """The settings as spans and days; settings that make no sense fall back to 09:00–18:00,
    Monday to Friday (and are logged), so the clock never stops."""
    start, end = parse_hhmm(config.get(WORK_START.key)), parse_hhmm(config.get(WORK_END.key))
    lunch_start = parse_hhmm(config.get(LUNCH_START.key))
    lunch_end = parse_hhmm(config.get(LUNCH_END.key))
    try:
        days = frozenset(int(day) for day in config.get(WORK_DAYS.key) or ())
    except (TypeError, ValueError):
        days = frozenset()
    if start is None or end is None or start >= end or not days or not days <= set(range(1, 8)):
        logger.warning("service working hours settings are not valid; using 09:00-18:00 Mon-Fri")
        return DEFAULT_HOURS
    spans: tuple[tuple[time, time], ...] = ((start, end),)
    if lunch_start and lunch_end and start < lunch_start < lunch_end < end:
        spans = ((start, lunch_start), (lunch_end, end))
    return WorkingHours(spans=spans, days=days)


# --- the entries, cached per process ----------------------------------------------------------


@dataclass
class _EntryCache:
    years: dict[int, dict[date, bool]] = field(default_factory=dict)  # day -> is a workday
    version: Any = None
    checked_at: float = 0.0


_cache = _EntryCache()


def clear_cache() -> None:
    """Forget this process's copy of the entries (tests; after a change)."""
    _cache.years.clear()
    _cache.checked_at = 0.0


def calendar_changed() -> None:
    """Entries changed: drop this process's copy now, the other processes' at their next check."""
    clear_cache()
    cache.set(VERSION_KEY, monotonic_clock.time_ns(), timeout=None)
    transaction.on_commit(clear_cache)


def _entry_saved_or_deleted(**_kwargs: Any) -> None:
    calendar_changed()


# Writes past the services (the Django admin, fixtures) clear the copies too.
post_save.connect(_entry_saved_or_deleted, sender=CalendarEntry, dispatch_uid="service-calendar")
post_delete.connect(_entry_saved_or_deleted, sender=CalendarEntry, dispatch_uid="service-calendar")


def _check_version() -> None:
    now = monotonic_clock.monotonic()
    if VERSION_CHECK_SECONDS and now - _cache.checked_at < VERSION_CHECK_SECONDS:
        return
    version = cache.get(VERSION_KEY)
    if version != _cache.version:
        _cache.years.clear()
        _cache.version = version
    _cache.checked_at = now


def _load_years(years: Iterable[int]) -> dict[int, dict[date, bool]]:
    """The entries of ``years`` by day, from this process's copy or read in one query."""
    _check_version()
    wanted = sorted(set(years))
    found = {year: _cache.years[year] for year in wanted if year in _cache.years}
    missing = [year for year in wanted if year not in found]
    if not missing:
        return found
    first, last = date(missing[0], 1, 1), date(missing[-1], 12, 31)
    loaded: dict[int, dict[date, bool]] = {year: {} for year in range(missing[0], missing[-1] + 1)}
    rows = CalendarEntry.objects.filter(start__lte=last, end__gte=first).values_list(
        "kind", "start", "end"
    )
    for kind, start, end in rows:
        day = max(start, first)
        while day <= min(end, last):
            loaded[day.year][day] = kind == CalendarDayKind.WORKDAY
            day += timedelta(days=1)
    for year, days in loaded.items():
        _cache.years.setdefault(year, days)
    # Another thread may have cleared the copy meanwhile: answer from what was read.
    return {**found, **{year: loaded[year] for year in missing}}


def _override(day: date) -> bool | None:
    return _load_years([day.year])[day.year].get(day)


def is_business_day(day: date, *, hours: WorkingHours | None = None) -> bool:
    override = _override(day)
    if override is not None:
        return override
    return day.isoweekday() in (hours or working_hours()).days


# --- the clock --------------------------------------------------------------------------------


def _zone() -> tzinfo:
    return timezone.get_default_timezone()


def _day_spans(day: date, hours: WorkingHours, zone: tzinfo) -> list[tuple[datetime, datetime]]:
    if not is_business_day(day, hours=hours):
        return []
    return [
        (datetime.combine(day, start, tzinfo=zone), datetime.combine(day, end, tzinfo=zone))
        for start, end in hours.spans
    ]


def add_business_minutes(start: datetime, minutes: int) -> datetime:
    """The instant at which ``minutes`` business minutes have passed since ``start``.

    It lies within or at the end of a working span (18:00, not the next morning's 09:00);
    ``minutes == 0`` gives the first business instant at or after ``start``.
    """
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    zone = _zone()
    hours = working_hours()
    local = timezone.localtime(start, zone)
    remaining = timedelta(minutes=minutes)
    day = local.date()
    _load_years(range(day.year, day.year + 2))
    for _step in range(MAX_WALK_DAYS):
        for span_start, span_end in _day_spans(day, hours, zone):
            if span_end <= local:
                continue
            begin = max(span_start, local)
            available = span_end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        day += timedelta(days=1)
    raise ValueError("the business calendar has no business time left")


def is_business_time(moment: datetime) -> bool:
    """Whether the clock runs at ``moment`` (within working hours of a business day)."""
    zone = _zone()
    local = timezone.localtime(moment, zone)
    return any(
        start <= local < end for start, end in _day_spans(local.date(), working_hours(), zone)
    )


def _business_time(a: datetime, b: datetime, hours: WorkingHours, zone: tzinfo) -> timedelta:
    """Business time from ``a`` to ``b`` (``a <= b``)."""
    total = timedelta()
    day, last = timezone.localtime(a, zone).date(), timezone.localtime(b, zone).date()
    _load_years(range(day.year, last.year + 1))
    while day <= last:
        for span_start, span_end in _day_spans(day, hours, zone):
            begin, end = max(span_start, a), min(span_end, b)
            if end > begin:
                total += end - begin
        day += timedelta(days=1)
    return total


def business_minutes_between(a: datetime, b: datetime) -> int:
    """Business minutes from ``a`` to ``b``, rounded down; negative when ``b`` is before ``a``
    (minutes left of a due time already passed)."""
    if b >= a:
        seconds = _business_time(a, b, working_hours(), _zone()).total_seconds()
    else:
        seconds = -_business_time(b, a, working_hours(), _zone()).total_seconds()
    return int(seconds // 60)


# --- entries: public holidays from the package, admins' edits --------------------------------


@dataclass(frozen=True)
class PlannedEntry:
    name: str
    kind: str
    start: date
    end: date


_LABEL_NOTE = re.compile(r"[（(].*[)）]\s*$")


def _is_weekend(day: date) -> bool:
    return day.isoweekday() >= 6


def holiday_plan(year: int) -> list[PlannedEntry]:
    """The holidays and make-up working days of ``year`` according to ``holidays.China``,
    named in Chinese as the package names them.

    Days off that follow each other, or are only parted by a weekend, make one holiday
    entry, widened by the weekend days beside it (国庆节 2026: 10-01 to 10-07); each weekend
    day worked in exchange (``weekend_workdays``) is a make-up working day named after the
    nearest holiday.
    """
    import holidays

    # The next year's notice can move a day of this year (2002's moved 2001-12-29).
    china = holidays.country_holidays("CN", years=[year, year + 1], language="zh_CN")
    off = {day: str(name) for day, name in china.items() if day.year == year}
    worked = {day for day in china.weekend_workdays if day.year == year}

    def free_weekend(day: date) -> bool:
        return day.year == year and _is_weekend(day) and day not in worked

    groups: list[list[date]] = []
    for day in sorted(off):
        if groups:
            gap = groups[-1][-1] + timedelta(days=1)
            while gap < day and free_weekend(gap):
                gap += timedelta(days=1)
            if gap == day:
                groups[-1].append(day)
                continue
        groups.append([day])
    planned: list[PlannedEntry] = []
    for group in groups:
        first, last = group[0], group[-1]
        while free_weekend(first - timedelta(days=1)):
            first -= timedelta(days=1)
        while free_weekend(last + timedelta(days=1)):
            last += timedelta(days=1)
        names: list[str] = []
        for day in group:
            label = _LABEL_NOTE.sub("", off[day]).strip()
            if label and label != "休息日" and label not in names:
                names.append(label)
        planned.append(
            PlannedEntry("、".join(names) or "休息日", CalendarDayKind.HOLIDAY, first, last)
        )
    holidays_only = list(planned)
    for day in sorted(worked):
        near = _holiday_of_workday(day, holidays_only, off)
        # Data in the package's language (zh_CN), like the holidays' own names.
        name = f"{near.name}调休上班" if near else "调休上班"
        planned.append(PlannedEntry(name[:100], CalendarDayKind.WORKDAY, day, day))
    return sorted(planned, key=lambda entry: entry.start)


def _holiday_of_workday(
    day: date, entries: list[PlannedEntry], off: dict[date, str]
) -> PlannedEntry | None:
    """The holiday a weekend day is worked for: the one holding the day off whose label
    names it (休息日（由 2026-09-20 调休）), else the nearest."""
    for entry in entries:
        if any(
            entry.start <= free <= entry.end and day.isoformat() in label
            for free, label in off.items()
        ):
            return entry
    return min(
        entries,
        key=lambda e: min(abs((e.start - day).days), abs((e.end - day).days)),
        default=None,
    )


@transaction.atomic
def calendar_refresh(*, years: Sequence[int] | None = None) -> dict[str, int]:
    """Load the public holidays and 调休 of ``years`` (default: this year and the next
    ``service.holiday_years_ahead``) from the package. Idempotent: entries already there
    stay (same ids), package entries no longer planned go, and an admin's entries win over
    the package (a planned entry overlapping one is left out)."""
    if years is None:
        first = timezone.localdate().year
        years = range(first, first + int(config.get(HOLIDAY_YEARS_AHEAD.key)) + 1)
    created = deleted = skipped = 0
    for year in years:
        first_day, last_day = date(year, 1, 1), date(year, 12, 31)
        plan = set(holiday_plan(year))
        package_rows = list(
            CalendarEntry.objects.select_for_update().filter(
                source=SOURCE_PACKAGE, start__gte=first_day, start__lte=last_day
            )
        )
        kept: set[PlannedEntry] = set()
        for row in package_rows:
            key = PlannedEntry(row.name, row.kind, row.start, row.end)
            if key in plan and key not in kept:
                kept.add(key)
            else:
                row.delete()
                deleted += 1
        others = list(
            CalendarEntry.objects.filter(start__lte=last_day, end__gte=first_day)
            .exclude(source=SOURCE_PACKAGE)
            .values_list("start", "end")
        )
        for entry in sorted(plan - kept, key=lambda e: e.start):
            if any(start <= entry.end and entry.start <= end for start, end in others):
                skipped += 1
                continue
            CalendarEntry.objects.create(
                name=entry.name,
                kind=entry.kind,
                start=entry.start,
                end=entry.end,
                source=SOURCE_PACKAGE,
            )
            created += 1
    calendar_changed()
    return {"created": created, "deleted": deleted, "skipped": skipped}


def calendar_may_edit(user: User) -> bool:
    return is_admin(user)


def _check_admin(actor: User) -> None:
    if not calendar_may_edit(actor):
        raise Forbidden(_("Only admins edit the business calendar."))


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


def _clean_entry(data: dict[str, Any], entry: CalendarEntry | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if "name" in data or entry is None:
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = [_("This field is required.")]
        elif len(name) > 100:
            errors["name"] = [_("At most %(limit)d characters.") % {"limit": 100}]
        values["name"] = name
    if "kind" in data or entry is None:
        kind = str(data.get("kind") or "")
        if kind not in CalendarDayKind.values:
            errors["kind"] = [_("Choose a holiday or a make-up working day.")]
        values["kind"] = kind
    for name in ("start", "end"):
        if name in data or entry is None:
            day = _as_date(data.get(name))
            if day is None:
                errors[name] = [_("Enter a date as YYYY-MM-DD.")]
            values[name] = day
    if errors:
        raise InvalidInput(errors=errors)
    start = values.get("start", entry.start if entry else None)
    end = values.get("end", entry.end if entry else None)
    assert start is not None
    assert end is not None
    if end < start:
        raise InvalidInput(errors={"end": [str(END_BEFORE_START)]})
    if (end - start).days >= MAX_ENTRY_DAYS:
        raise InvalidInput(
            errors={"end": [_("An entry spans at most %(days)d days.") % {"days": MAX_ENTRY_DAYS}]}
        )
    overlapping = CalendarEntry.objects.filter(start__lte=end, end__gte=start)
    if entry is not None:
        overlapping = overlapping.exclude(pk=entry.pk)
    clash = overlapping.order_by("start").first()
    if clash is not None:
        message = _("Overlaps %(name)s (%(start)s to %(end)s); entries may not overlap.") % {
            "name": clash.name,
            "start": clash.start.isoformat(),
            "end": clash.end.isoformat(),
        }
        raise InvalidInput(
            message,
            code="calendar_overlap",
            errors={"start": [message]},
            extra={"overlaps": clash.pk},
        )
    return values


@audit.audited("service.calendar_entry_created")
@transaction.atomic
def calendar_entry_create(*, actor: User, data: dict[str, Any]) -> CalendarEntry:
    _check_admin(actor)
    _lock_calendar()
    values = _clean_entry(data, None)
    entry = CalendarEntry.objects.create(**values, source=SOURCE_MANUAL)
    calendar_changed()
    return entry


@audit.audited("service.calendar_entry_changed", target="entry")
@transaction.atomic
def calendar_entry_update(
    *, actor: User, entry: CalendarEntry, data: dict[str, Any]
) -> CalendarEntry:
    """Change an entry; an entry loaded from the package becomes the admin's (a refresh
    leaves it alone)."""
    _check_admin(actor)
    _lock_calendar()
    entry = CalendarEntry.objects.select_for_update().get(pk=entry.pk)
    values = _clean_entry(data, entry)
    for name, value in values.items():
        setattr(entry, name, value)
    entry.source = SOURCE_MANUAL
    entry.save()
    calendar_changed()
    return entry


@audit.audited("service.calendarentry_deleted", target="entry")
@transaction.atomic
def calendar_entry_delete(*, actor: User, entry: CalendarEntry) -> None:
    _check_admin(actor)
    CalendarEntry.objects.filter(pk=entry.pk).delete()
    calendar_changed()


def _lock_calendar() -> None:
    """Serialise the overlap check of concurrent writers (PostgreSQL: an advisory lock held
    to the end of the transaction; SQLite serialises writers anyway)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x5E_CA1E])


@audit.audited("service.working_hours_changed")
@transaction.atomic
def working_hours_update(*, actor: User, data: dict[str, Any]) -> WorkingHours:
    """Set the working hours, the optional lunch break and the working days (admins)."""
    _check_admin(actor)
    errors: dict[str, list[str]] = {}
    times: dict[str, time | None] = {}
    for name in ("work_start", "work_end", "lunch_start", "lunch_end"):
        raw = data.get(name)
        text = raw.strftime("%H:%M") if isinstance(raw, time) else str(raw or "").strip()
        times[name] = parse_hhmm(text) if text else None
        if text and times[name] is None:
            errors[name] = [_("Enter a time as HH:MM.")]
        elif not text and name.startswith("work"):
            errors[name] = [_("This field is required.")]
    try:
        days = sorted({int(day) for day in data.get("work_days") or ()})
    except (TypeError, ValueError):
        days = []
    if not days or not set(days) <= set(range(1, 8)):
        errors["work_days"] = [_("Choose at least one working day.")]
    start, end = times["work_start"], times["work_end"]
    lunch_start, lunch_end = times["lunch_start"], times["lunch_end"]
    if not errors:
        assert start is not None
        assert end is not None
        if start >= end:
            errors["work_end"] = [_("The day must end after it starts.")]
        elif (lunch_start is None) != (lunch_end is None):
            errors["lunch_end"] = [_("Give both ends of the lunch break, or neither.")]
        elif lunch_start and lunch_end and not start < lunch_start < lunch_end < end:
            errors["lunch_end"] = [_("The lunch break must lie within the working day.")]
    if errors:
        raise InvalidInput(errors=errors)
    for spec, value in (
        (WORK_START, f"{start:%H:%M}"),
        (WORK_END, f"{end:%H:%M}"),
        (LUNCH_START, f"{lunch_start:%H:%M}" if lunch_start else ""),
        (LUNCH_END, f"{lunch_end:%H:%M}" if lunch_end else ""),
        (WORK_DAYS, days),
    ):
        config.put(spec.key, value, actor=actor, reason=_("Changed on the working hours page"))
    return working_hours()


def entries_between(start: date, end: date) -> list[CalendarEntry]:
    """Entries overlapping the days from ``start`` to ``end``."""
    return list(CalendarEntry.objects.filter(Q(start__lte=end) & Q(end__gte=start)))
