"""The business calendar: working hours, weekends, public holidays and 调休 (real 2026 dates
from the holidays package), admins' entries, and the clock's arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core import config
from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.models import SystemSetting
from kehu.core.testing.factories import Organisation
from kehu.service.models import CalendarDayKind, CalendarEntry
from kehu.service.services import calendar
from kehu.service.services.calendar import (
    add_business_minutes,
    business_minutes_between,
    is_business_day,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def calendar_2026(db: None) -> Iterator[None]:
    """Only the package's 2026 (whatever year the test database was migrated in)."""
    CalendarEntry.objects.all().delete()
    calendar.calendar_refresh(years=[2026])
    yield
    calendar.clear_cache()


# --- the package's 2026 -----------------------------------------------------------------------
def test_2026_holidays_and_make_up_days_come_from_the_package(calendar_2026: None) -> None:
    rows = {
        (row.kind, row.start.isoformat(), row.end.isoformat())
        for row in CalendarEntry.objects.filter(source="holidays")
    }
    # The State Council's 2026 notice: 国庆节 10-01..10-07, worked on Sun 09-20 and Sat 10-10.
    assert ("holiday", "2026-10-01", "2026-10-07") in rows
    assert ("workday", "2026-09-20", "2026-09-20") in rows
    assert ("workday", "2026-10-10", "2026-10-10") in rows
    assert ("holiday", "2026-02-15", "2026-02-23") in rows  # 春节
    assert ("workday", "2026-02-14", "2026-02-14") in rows
    assert ("workday", "2026-02-28", "2026-02-28") in rows
    assert ("holiday", "2026-09-25", "2026-09-27") in rows  # 中秋节
    national_day = CalendarEntry.objects.get(start=date(2026, 10, 1))
    assert national_day.name == "国庆节"
    assert "国庆节" in CalendarEntry.objects.get(start=date(2026, 10, 10)).name


def test_business_days_of_golden_week(calendar_2026: None) -> None:
    assert is_business_day(date(2026, 9, 30))  # Wednesday
    assert not is_business_day(date(2026, 10, 1))
    assert not is_business_day(date(2026, 10, 5))  # Monday, but 国庆节
    assert not is_business_day(date(2026, 10, 7))
    assert is_business_day(date(2026, 10, 8))
    assert is_business_day(date(2026, 10, 10))  # Saturday worked (调休)
    assert not is_business_day(date(2026, 10, 11))  # a plain Sunday
    assert is_business_day(date(2026, 9, 20))  # Sunday worked (调休)


def test_refresh_is_idempotent_and_leaves_admins_entries_alone(
    calendar_2026: None, org: Organisation
) -> None:
    ids = set(CalendarEntry.objects.values_list("pk", flat=True))
    assert calendar.calendar_refresh(years=[2026]) == {"created": 0, "deleted": 0, "skipped": 0}
    assert set(CalendarEntry.objects.values_list("pk", flat=True)) == ids
    # An admin moves 端午节 by hand: the entry becomes theirs and a refresh keeps it.
    dragon = CalendarEntry.objects.get(start=date(2026, 6, 19))
    calendar.calendar_entry_update(actor=org.admin, entry=dragon, data={"end": date(2026, 6, 22)})
    found = calendar.calendar_refresh(years=[2026])
    assert found == {"created": 0, "deleted": 0, "skipped": 1}  # the package's 端午节
    dragon.refresh_from_db()
    assert (dragon.source, dragon.end) == ("manual", date(2026, 6, 22))
    # Deleting a package entry and refreshing brings it back.
    CalendarEntry.objects.filter(start=date(2026, 10, 1)).delete()
    assert calendar.calendar_refresh(years=[2026])["created"] == 1


# --- the clock --------------------------------------------------------------------------------
def test_across_a_night(calendar_2026: None) -> None:
    # Tuesday 2026-09-29 17:30 + 60 min: 30 today, 30 from 09:00 on Wednesday.
    assert add_business_minutes(at("2026-09-29T17:30"), 60) == at("2026-09-30T09:30")
    assert business_minutes_between(at("2026-09-29T17:30"), at("2026-09-30T09:30")) == 60
    # A start at night begins the next morning.
    assert add_business_minutes(at("2026-09-29T22:00"), 30) == at("2026-09-30T09:30")
    # The end of a business day is its 18:00, not the next morning.
    assert add_business_minutes(at("2026-09-29T09:00"), 540) == at("2026-09-29T18:00")


def test_across_a_weekend(calendar_2026: None) -> None:
    # Friday 2026-11-13 17:00 + 120 min: Monday 10:00.
    assert add_business_minutes(at("2026-11-13T17:00"), 120) == at("2026-11-16T10:00")
    assert business_minutes_between(at("2026-11-13T17:00"), at("2026-11-16T10:00")) == 120
    assert business_minutes_between(at("2026-11-14T10:00"), at("2026-11-15T20:00")) == 0


def test_across_golden_week_and_its_make_up_saturday(calendar_2026: None) -> None:
    raised = at("2026-09-30T17:00")
    assert add_business_minutes(raised, 60) == at("2026-09-30T18:00")
    # 60 min on 09-30, nothing 10-01..10-07, 540 on Thu 10-08, 540 on Fri 10-09,
    # and the make-up Saturday 10-10 counts: 24 h = 1440 min ends there at 14:00.
    assert add_business_minutes(raised, 1440) == at("2026-10-10T14:00")
    assert business_minutes_between(raised, at("2026-10-10T14:00")) == 1440
    # 8 h end on Thursday 10-08 at 16:00.
    assert add_business_minutes(raised, 480) == at("2026-10-08T16:00")
    # Negative when the second instant is earlier (minutes left of a passed due time).
    assert business_minutes_between(at("2026-10-08T10:00"), raised) == -120


def test_business_time(calendar_2026: None) -> None:
    assert calendar.is_business_time(at("2026-09-30T17:59"))
    assert not calendar.is_business_time(at("2026-09-30T18:00"))
    assert not calendar.is_business_time(at("2026-10-05T10:00"))
    assert calendar.is_business_time(at("2026-10-10T09:00"))


def test_lunch_break_and_working_days_are_settings(calendar_2026: None) -> None:
    config.put(calendar.LUNCH_START.key, "12:00")
    config.put(calendar.LUNCH_END.key, "13:30")
    assert add_business_minutes(at("2026-11-16T11:30"), 60) == at("2026-11-16T14:00")
    assert business_minutes_between(at("2026-11-16T09:00"), at("2026-11-16T18:00")) == 450
    config.put(calendar.WORK_DAYS.key, [1, 2, 3, 4, 5, 6])
    assert is_business_day(date(2026, 11, 14))  # a Saturday is now worked
    assert not is_business_day(date(2026, 10, 3))  # holidays stay free


def test_nonsense_settings_fall_back_to_the_default_hours(calendar_2026: None) -> None:
    # config.put refuses such values; rows stored before the checks existed may hold them
    SystemSetting.objects.create(key=calendar.WORK_START.key, value="25:00")
    SystemSetting.objects.create(key=calendar.WORK_DAYS.key, value=[])
    assert calendar.working_hours() == calendar.DEFAULT_HOURS


def test_a_year_of_minutes_is_fast_and_reads_each_year_once(calendar_2026: None) -> None:
    start = at("2026-01-05T09:00")
    calendar.clear_cache()
    with CaptureQueriesContext(connection) as queries:
        due = add_business_minutes(start, 250 * 540)  # about a business year
        back = business_minutes_between(start, due)
    assert back == 250 * 540
    entry_reads = [q for q in queries.captured_queries if "service_calendarentry" in q["sql"]]
    assert len(entry_reads) <= 2, entry_reads  # 2026 and 2027, once each
    # Cached: the same again reads nothing.
    with CaptureQueriesContext(connection) as queries:
        add_business_minutes(start, 250 * 540)
    assert not [q for q in queries.captured_queries if "service_calendarentry" in q["sql"]]


def test_a_change_clears_the_cached_entries(calendar_2026: None, org: Organisation) -> None:
    monday = date(2026, 11, 16)
    assert is_business_day(monday)
    calendar.calendar_entry_create(
        actor=org.admin,
        data={"name": "公司年会", "kind": "holiday", "start": monday, "end": monday},
    )
    assert not is_business_day(monday)


def brute_force_minutes(a: datetime, b: datetime) -> int:
    """The oracle: step minute by minute (short spans only)."""
    count, moment = 0, a
    while moment < b:
        local = moment.astimezone(SHANGHAI)
        if is_business_day(local.date()) and 9 <= local.hour < 18:
            count += 1
        moment += timedelta(minutes=1)
    return count


def test_between_agrees_with_counting_minute_by_minute(calendar_2026: None) -> None:
    for a, b in [
        ("2026-09-30T08:13", "2026-10-01T10:00"),
        ("2026-10-09T17:01", "2026-10-12T09:45"),
        ("2026-09-19T12:00", "2026-09-21T09:07"),
    ]:
        assert business_minutes_between(at(a), at(b)) == brute_force_minutes(at(a), at(b))


# A business instant: one that ``add_business_minutes`` can give with at least one minute,
# i.e. inside a working span or at its end (09:00 sharp belongs to the evening before).
ORIGIN = at("2026-09-01T09:00")
offsets = st.integers(min_value=1, max_value=120 * 540)
amounts = st.integers(min_value=0, max_value=60 * 540)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(offset=offsets, minutes=amounts)
def test_add_and_between_are_inverse_on_business_instants(
    calendar_2026: None, offset: int, minutes: int
) -> None:
    instant = add_business_minutes(ORIGIN, offset)
    later = add_business_minutes(instant, minutes)
    assert business_minutes_between(instant, later) == minutes
    assert business_minutes_between(later, instant) == -minutes
    if minutes:
        assert add_business_minutes(instant, business_minutes_between(instant, later)) == later
    assert business_minutes_between(ORIGIN, instant) == offset


# --- admins' entries --------------------------------------------------------------------------
def test_overlapping_entries_are_refused_and_nothing_is_written(
    calendar_2026: None, org: Organisation
) -> None:
    before = CalendarEntry.objects.count()
    with pytest.raises(InvalidInput) as caught:
        calendar.calendar_entry_create(
            actor=org.admin,
            data={"name": "补休", "kind": "holiday", "start": "2026-10-07", "end": "2026-10-09"},
        )
    assert caught.value.code == "calendar_overlap"
    assert "国庆节" in caught.value.detail
    assert CalendarEntry.objects.count() == before
    # Moving an entry onto another is refused too, and the entry stays as it was.
    entry = CalendarEntry.objects.get(start=date(2026, 10, 10))
    with pytest.raises(InvalidInput):
        calendar.calendar_entry_update(actor=org.admin, entry=entry, data={"start": "2026-10-07"})
    entry.refresh_from_db()
    assert (entry.start, entry.source) == (date(2026, 10, 10), "holidays")


def test_entry_validation(calendar_2026: None, org: Organisation) -> None:
    before = CalendarEntry.objects.count()
    cases = [
        ({"name": "", "kind": "holiday", "start": "2026-11-02", "end": "2026-11-02"}, "name"),
        ({"name": "x", "kind": "party", "start": "2026-11-02", "end": "2026-11-02"}, "kind"),
        ({"name": "x", "kind": "holiday", "start": "2026-13-02", "end": "2026-11-02"}, "start"),
        ({"name": "x", "kind": "holiday", "start": "2026-11-03", "end": "2026-11-02"}, "end"),
        ({"name": "x", "kind": "holiday", "start": "2026-11-02", "end": "2028-11-02"}, "end"),
    ]
    for data, field in cases:
        with pytest.raises(InvalidInput) as caught:
            calendar.calendar_entry_create(actor=org.admin, data=data)
        assert field in caught.value.errors, (data, caught.value.errors)
    assert CalendarEntry.objects.count() == before
    with pytest.raises(Forbidden):
        calendar.calendar_entry_create(
            actor=org.east_manager,
            data={
                "name": "x",
                "kind": CalendarDayKind.HOLIDAY,
                "start": "2026-11-02",
                "end": "2026-11-02",
            },
        )
    assert CalendarEntry.objects.count() == before
