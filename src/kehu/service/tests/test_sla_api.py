"""/api/v1/sla-policies and /api/v1/business-calendar: reads for staff, writes for admins,
clear 4xx answers that change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from kehu.core.testing.factories import Organisation, api_client
from kehu.service.models import CalendarEntry, SlaPolicy
from kehu.service.services import calendar

API = "/api/v1"


@pytest.fixture
def calendar_2026(db: None) -> Iterator[None]:
    CalendarEntry.objects.all().delete()
    calendar.calendar_refresh(years=[2026])
    yield
    calendar.clear_cache()


def policy_body(**fields: Any) -> dict[str, Any]:
    return {"priority": "high", "customer_grade": "A", "respond_minutes": 30,
            "resolve_minutes": 240, **fields}  # fmt: skip


def test_staff_read_the_policies(org: Organisation, django_assert_max_num_queries: Any) -> None:
    client = api_client(org.service)
    client.get(f"{API}/sla-policies")  # the token's first use
    with django_assert_max_num_queries(6):
        answer = client.get(f"{API}/sla-policies")
    assert answer.status_code == 200
    assert [(row["priority"], row["respond_minutes"]) for row in answer.json()] == [
        ("high", 60),
        ("medium", 120),
        ("low", 480),
    ]


def test_admin_creates_changes_and_deletes_a_policy(org: Organisation) -> None:
    client = api_client(org.admin)
    created = client.post(f"{API}/sla-policies", policy_body(), content_type="application/json")
    assert created.status_code == 201, created.content
    row = created.json()
    changed = client.patch(
        f"{API}/sla-policies/{row['id']}",
        {"version": row["version"], "resolve_minutes": 300},
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert changed.json()["resolve_minutes"] == 300
    assert client.delete(f"{API}/sla-policies/{row['id']}").status_code == 204
    assert not SlaPolicy.objects.filter(pk=row["id"]).exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"respond_minutes": 0}, "respond_minutes"),
        ({"respond_minutes": -30}, "respond_minutes"),
        ({"resolve_minutes": 0}, "resolve_minutes"),
        ({"resolve_minutes": "两天"}, "resolve_minutes"),
        ({"warn_before_minutes": -1}, "warn_before_minutes"),
    ],
)
def test_zero_or_negative_durations_are_422(
    org: Organisation, fields: dict[str, Any], field: str
) -> None:
    before = SlaPolicy.objects.count()
    answer = api_client(org.admin).post(
        f"{API}/sla-policies", policy_body(**fields), content_type="application/json"
    )
    assert answer.status_code == 422, answer.content
    assert field in answer.json()["errors"]
    assert SlaPolicy.objects.count() == before


def test_a_second_policy_for_the_same_priority_and_grade_is_409(org: Organisation) -> None:
    client = api_client(org.admin)
    answer = client.post(
        f"{API}/sla-policies", policy_body(customer_grade=""), content_type="application/json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "duplicate_policy"
    assert SlaPolicy.objects.filter(priority="high").count() == 1


def test_a_patch_to_zero_changes_nothing(org: Organisation) -> None:
    policy = SlaPolicy.objects.get(priority="low", customer_grade="")
    answer = api_client(org.admin).patch(
        f"{API}/sla-policies/{policy.pk}",
        {"version": policy.version, "respond_minutes": 0},
        content_type="application/json",
    )
    assert answer.status_code == 422
    policy.refresh_from_db()
    assert policy.respond_minutes == 480


def test_only_admins_write(org: Organisation) -> None:
    client = api_client(org.east_manager)
    answer = client.post(f"{API}/sla-policies", policy_body(), content_type="application/json")
    assert answer.status_code == 403
    entry = {"name": "年会", "kind": "holiday", "start": "2030-01-02", "end": "2030-01-02"}
    answer = client.post(f"{API}/business-calendar", entry, content_type="application/json")
    assert answer.status_code == 403


def test_calendar_entries_in_a_range(
    calendar_2026: None, org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = api_client(org.service)
    client.get(f"{API}/sla-policies")  # the token's first use
    with django_assert_max_num_queries(6):
        answer = client.get(
            f"{API}/business-calendar", {"start": "2026-01-01", "end": "2027-12-31"}
        )
    assert len(answer.json()) >= 13
    answer = client.get(f"{API}/business-calendar", {"start": "2026-09-01", "end": "2026-10-31"})
    assert answer.status_code == 200
    rows = [(row["kind"], row["start"], row["end"]) for row in answer.json()]
    assert rows == [
        ("workday", "2026-09-20", "2026-09-20"),
        ("holiday", "2026-09-25", "2026-09-27"),
        ("holiday", "2026-10-01", "2026-10-07"),
        ("workday", "2026-10-10", "2026-10-10"),
    ]
    backwards = api_client(org.service).get(
        f"{API}/business-calendar", {"start": "2026-10-01", "end": "2026-09-01"}
    )
    assert backwards.status_code == 422


def test_overlapping_entry_is_422_and_nothing_is_written(
    calendar_2026: None, org: Organisation
) -> None:
    before = CalendarEntry.objects.count()
    client = api_client(org.admin)
    entry = {"name": "加休", "kind": "holiday", "start": "2026-10-07", "end": "2026-10-09"}
    answer = client.post(f"{API}/business-calendar", entry, content_type="application/json")
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "calendar_overlap"
    assert "国庆节" in body["detail"]
    backwards = {**entry, "start": "2026-11-09", "end": "2026-11-02"}
    answer = client.post(f"{API}/business-calendar", backwards, content_type="application/json")
    assert answer.status_code == 422
    assert "end" in answer.json()["errors"]
    assert CalendarEntry.objects.count() == before


def test_admin_edits_an_entry_and_the_clock_follows(calendar_2026: None, org: Organisation) -> None:
    client = api_client(org.admin)
    check = {"start": "2026-10-09T17:00:00+08:00", "minutes": 120}
    # Friday 17:00 + 2 h: 1 h on Friday, 1 h on the make-up Saturday 10-10.
    assert (
        client.get(f"{API}/business-calendar/check", check)
        .json()["due_at"]
        .startswith("2026-10-10T10:00")
    )
    saturday = CalendarEntry.objects.get(start="2026-10-10")
    answer = client.patch(
        f"{API}/business-calendar/{saturday.pk}",
        {"kind": "holiday", "name": "取消调休"},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["source"] == "manual"
    assert (
        client.get(f"{API}/business-calendar/check", check)
        .json()["due_at"]
        .startswith("2026-10-12T10:00")
    )
    assert client.delete(f"{API}/business-calendar/{saturday.pk}").status_code == 204


def test_check_answers_due_times_and_rejects_bad_input(
    calendar_2026: None, org: Organisation
) -> None:
    client = api_client(org.rep)
    answer = client.get(
        f"{API}/business-calendar/check", {"start": "2026-09-30T17:00", "minutes": 1440}
    )
    assert answer.status_code == 200
    assert answer.json()["due_at"].startswith("2026-10-10T14:00")  # naive = Asia/Shanghai
    assert answer.json()["business_day"] is True
    for bad in ({"start": "yesterday", "minutes": 5}, {"start": "2026-09-30T17:00", "minutes": -1}):
        assert client.get(f"{API}/business-calendar/check", bad).status_code == 422


def test_refresh_is_for_admins(calendar_2026: None, org: Organisation) -> None:
    answer = api_client(org.admin).post(
        f"{API}/business-calendar/refresh", {"years": [2026]}, content_type="application/json"
    )
    assert answer.json() == {"created": 0, "deleted": 0, "skipped": 0}
    answer = api_client(org.service).post(
        f"{API}/business-calendar/refresh", {"years": [2026]}, content_type="application/json"
    )
    assert answer.status_code == 403
    answer = api_client(org.admin).post(
        f"{API}/business-calendar/refresh", {"years": [1900]}, content_type="application/json"
    )
    assert answer.status_code == 422


def test_anonymous_gets_401(db: None) -> None:
    assert Client().get(f"{API}/sla-policies").status_code == 401
