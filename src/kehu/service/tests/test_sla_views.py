"""The SLA settings pages: policies, working hours and the business calendar (admins)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core import config
from kehu.core.testing.factories import Organisation
from kehu.service.models import CalendarEntry, SlaPolicy
from kehu.service.services import calendar


@pytest.fixture
def admin(org: Organisation) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(org.admin)
    return client


@pytest.fixture
def calendar_2026(db: None) -> Iterator[None]:
    CalendarEntry.objects.all().delete()
    calendar.calendar_refresh(years=[2026])
    yield
    calendar.clear_cache()


def test_settings_page_lists_policies_hours_and_the_year(
    admin: Client, calendar_2026: None
) -> None:
    page = admin.get(reverse("service:sla_settings"), {"year": 2026})
    assert page.status_code == 200
    text = page.content.decode()
    assert "SLA 策略" in text
    assert "国庆节" in text
    assert "09:00–18:00" in text
    assert 'id="calendar-table"' in text
    assert "工单优先级" in text


def test_the_settings_page_links_here(admin: Client) -> None:
    page = admin.get(reverse("accounts:settings"))
    assert reverse("service:sla_settings") in page.content.decode()


def test_settings_are_for_admins(org: Organisation) -> None:
    client = Client()
    client.force_login(org.east_manager)
    assert client.get(reverse("service:sla_settings")).status_code == 403
    assert client.post(reverse("service:sla_hours"), {}).status_code == 403


def test_policy_form_shows_field_errors_and_writes_nothing(admin: Client) -> None:
    before = SlaPolicy.objects.count()
    page = admin.post(
        reverse("service:sla_policy_create"),
        {"priority": "high", "customer_grade": "B", "respond_minutes": "0",
         "resolve_minutes": "-5", "warn_before_minutes": "10"},
    )  # fmt: skip
    assert page.status_code == 200
    form = page.context["form"]
    assert "respond_minutes" in form.errors
    assert SlaPolicy.objects.count() == before
    duplicate = admin.post(
        reverse("service:sla_policy_create"),
        {"priority": "high", "customer_grade": "", "respond_minutes": "30",
         "resolve_minutes": "60", "warn_before_minutes": "10"},
    )  # fmt: skip
    assert "customer_grade" in duplicate.context["form"].errors
    assert SlaPolicy.objects.count() == before


def test_policy_created_from_the_form(admin: Client) -> None:
    answer = admin.post(
        reverse("service:sla_policy_create"),
        {"priority": "high", "customer_grade": "A", "respond_minutes": "30",
         "resolve_minutes": "240", "warn_before_minutes": "10", "is_active": "on"},
    )  # fmt: skip
    assert answer.status_code == 302
    assert SlaPolicy.objects.filter(priority="high", customer_grade="A").exists()


def test_working_hours_form(admin: Client, calendar_2026: None) -> None:
    bad = admin.post(
        reverse("service:sla_hours"),
        {"work_start": "18:00", "work_end": "09:00", "work_days": ["1"]},
    )
    assert bad.status_code == 200
    assert "work_end" in bad.context["form"].errors
    assert config.get(calendar.WORK_START.key) == "09:00"
    lunch_outside = admin.post(
        reverse("service:sla_hours"),
        {"work_start": "09:00", "work_end": "18:00", "lunch_start": "19:00",
         "lunch_end": "20:00", "work_days": ["1"]},
    )  # fmt: skip
    assert "lunch_end" in lunch_outside.context["form"].errors
    good = admin.post(
        reverse("service:sla_hours"),
        {"work_start": "08:30", "work_end": "17:30", "lunch_start": "12:00",
         "lunch_end": "13:00", "work_days": ["1", "2", "3", "4", "5"]},
    )  # fmt: skip
    assert good.status_code == 302
    hours = calendar.working_hours()
    assert hours.minutes_per_day == 480
    assert config.get(calendar.WORK_DAYS.key) == [1, 2, 3, 4, 5]


def test_overlapping_entry_in_the_form(admin: Client, calendar_2026: None) -> None:
    before = CalendarEntry.objects.count()
    page = admin.post(
        reverse("service:calendar_entry_create"),
        {"name": "加休", "kind": "holiday", "start": "2026-10-06", "end": "2026-10-09"},
    )
    assert page.status_code == 200
    assert "国庆节" in str(page.context["form"].errors)
    assert CalendarEntry.objects.count() == before


def test_load_public_holidays_button(admin: Client, db: None) -> None:
    CalendarEntry.objects.all().delete()
    answer = admin.post(reverse("service:calendar_refresh"), {"year": "2026"})
    assert answer.status_code == 302
    assert CalendarEntry.objects.filter(start=date(2026, 10, 1), end=date(2026, 10, 7)).exists()
