"""Cadence plans and care dates managed by managers and admins: rules, history, API, pages."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kehu.core.errors import InvalidInput, ReadOnly, StaleVersion
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import CustomerStatus
from kehu.followups import plan_services as services
from kehu.followups import reminders
from kehu.followups.models import CadencePlan, CareDate, CareKind, Task, TaskKind, TaskStatus
from kehu.followups.services import active_plans, cadence_interval
from kehu.followups.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def team_plan(org: Organisation, **data: Any) -> CadencePlan:
    values = {"name": "上海组意向：每天", "status": "intent", "interval_days": 1}
    values["department"] = org.shanghai.pk
    return services.cadence_plan_create(actor=org.east_manager, data={**values, **data})


def company_plan() -> CadencePlan:
    return CadencePlan.objects.get(status="intent", grade="", department=None)


# --- which plan applies ----------------------------------------------------------------------


def test_a_team_plan_replaces_the_company_plan_for_its_customers_only(org: Organisation) -> None:
    plan = team_plan(org, interval_days=5)  # less frequent than the company's 2 days
    mine = make_customer(org.rep, status=CustomerStatus.INTENT)
    south = make_customer(org.south_rep, status=CustomerStatus.INTENT)
    hangzhou = make_customer(org.hangzhou_rep, status=CustomerStatus.INTENT)
    plans = active_plans()
    assert cadence_interval(mine, plans) == plan
    assert cadence_interval(south, plans) == company_plan()
    assert cadence_interval(hangzhou, plans) == company_plan()
    # a potential customer of 上海组: the team set no plan for it, the company's applies
    potential = make_customer(org.rep, status=CustomerStatus.POTENTIAL)
    assert cadence_interval(potential, plans).department is None  # type: ignore[union-attr]


def test_a_plan_change_re_plans_the_team_customers_task(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        customer = make_customer(org.rep, status=CustomerStatus.INTENT)
    task = Task.objects.get(dedupe_key=f"cadence:{customer.pk}", status=TaskStatus.OPEN)
    before = task.due_at
    with django_capture_on_commit_callbacks(execute=True):  # the re-plan job runs on commit
        team_plan(org, interval_days=9)
    task.refresh_from_db()
    assert task.due_at - before == timedelta(days=7)  # 2 days → 9 days
    assert "上海组意向：每天" in task.title


# --- validation and permissions --------------------------------------------------------------


def test_bad_plan_input_names_each_field(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as caught:
        services.cadence_plan_create(
            actor=org.east_manager,
            data={"name": " ", "interval_days": 0, "status": "", "grade": ""},
        )
    assert set(caught.value.errors) == {"name", "interval_days", "status", "department"}
    with pytest.raises(InvalidInput) as caught:
        services.cadence_plan_create(
            actor=org.east_manager,
            data={"name": "x", "status": "vip", "interval_days": "abc", "department": org.south.pk},
        )
    assert set(caught.value.errors) == {"status", "interval_days", "department"}


def test_a_second_active_plan_for_the_same_target_is_refused(org: Organisation) -> None:
    team_plan(org)
    with pytest.raises(InvalidInput) as caught:
        team_plan(org, name="又一个")
    assert "上海组意向：每天" in caught.value.errors["status"][0]
    team_plan(org, name="暂停的", is_active=False)  # an inactive copy is fine


def test_a_manager_reads_the_company_plan_but_may_not_change_it(org: Organisation) -> None:
    plan = company_plan()
    with pytest.raises(ReadOnly):
        services.cadence_plan_update(
            actor=org.east_manager, plan_id=plan.pk, data={"interval_days": 3}
        )
    changed = services.cadence_plan_update(
        actor=org.admin, plan_id=plan.pk, data={"interval_days": 3}, version=plan.version
    )
    assert changed.interval_days == 3
    assert changed.version == plan.version + 1
    with pytest.raises(StaleVersion):
        services.cadence_plan_update(
            actor=org.admin, plan_id=plan.pk, data={"interval_days": 4}, version=plan.version
        )


def test_history_keeps_who_what_and_why(org: Organisation) -> None:
    plan = team_plan(org)
    services.cadence_plan_update(
        actor=org.east_manager, plan_id=plan.pk, data={"interval_days": 3}, reason="客户反馈太频繁"
    )
    entry = plan.history.order_by("-history_id").first()
    assert entry.history_user == org.east_manager
    assert entry.history_change_reason == "客户反馈太频繁"
    services.cadence_plan_delete(actor=org.east_manager, plan_id=plan.pk, reason="合并到公司计划")
    assert not CadencePlan.objects.filter(pk=plan.pk).exists()
    assert CadencePlan.history.filter(id=plan.pk, history_type="-").exists()


# --- care dates -------------------------------------------------------------------------------


def test_generated_holidays_are_only_switched_on_or_off(org: Organisation) -> None:
    holiday = CareDate.objects.create(date=date(2027, 10, 1), name="国庆节", kind=CareKind.PUBLIC)
    with pytest.raises(InvalidInput) as caught:
        services.care_date_update(actor=org.admin, care_id=holiday.pk, data={"name": "国庆"})
    assert "name" in caught.value.errors
    with pytest.raises(InvalidInput):
        services.care_date_delete(actor=org.admin, care_id=holiday.pk)
    off = services.care_date_update(actor=org.admin, care_id=holiday.pk, data={"is_active": False})
    assert off.is_active is False
    # a manager may not switch off the company's holiday
    with pytest.raises(ReadOnly):
        services.care_date_update(
            actor=org.east_manager, care_id=holiday.pk, data={"is_active": True}
        )


def test_a_team_care_date_reminds_only_the_team_owners(org: Organisation) -> None:
    make_customer(org.rep)
    make_customer(org.south_rep)
    today = timezone.localdate()
    services.care_date_create(
        actor=org.east_manager,
        data={
            "date": today + timedelta(days=1),
            "name": "华东客户答谢日",
            "department": org.east.pk,
        },
    )
    reminders.care_reminders()
    greeted = set(
        Task.objects.filter(kind=TaskKind.CARE, title__contains="华东客户答谢日").values_list(
            "assignee__username", flat=True
        )
    )
    assert greeted == {"rep"}


def test_care_date_input_errors(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as caught:
        services.care_date_create(
            actor=org.east_manager, data={"date": "2027-02-30", "name": "", "department": None}
        )
    assert set(caught.value.errors) == {"date", "name", "department"}
    services.care_date_create(actor=org.admin, data={"date": "2027-05-20", "name": "周年庆"})
    with pytest.raises(InvalidInput) as caught:
        services.care_date_create(actor=org.admin, data={"date": "2027-05-20", "name": "周年庆"})
    assert "name" in caught.value.errors


# --- API ---------------------------------------------------------------------------------------


def _json(client: Client, method: str, url: str, body: dict[str, Any]) -> Any:
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def test_api_lists_create_and_errors(org: Organisation, django_assert_max_num_queries: Any) -> None:
    manager = api_client(org.east_manager)
    created = _json(
        manager, "post", "/api/v1/cadence-plans",
        {"name": "上海组 A 级：每周", "grade": "A", "interval_days": 7,
         "department": org.shanghai.pk, "reason": "重点客户"},
    )  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["editable"] is True
    bad = _json(manager, "post", "/api/v1/cadence-plans", {"name": "x", "interval_days": 0})
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"interval_days", "status", "department"}
    for extra in range(3):
        team_plan(org, name=f"计划{extra}", grade="BCD"[extra], status="")
    with django_assert_max_num_queries(8):
        listed = manager.get("/api/v1/cadence-plans").json()
    names = {item["name"]: item for item in listed["items"]}
    assert names["上海组 A 级：每周"]["editable"] is True
    assert names["意向客户：每 2 天跟进"]["editable"] is False  # the company's
    south = api_client(org.south_manager).get("/api/v1/cadence-plans").json()
    assert "上海组 A 级：每周" not in {item["name"] for item in south["items"]}
    plan_id = created.json()["id"]
    history = manager.get(f"/api/v1/cadence-plans/{plan_id}/history").json()
    assert history[0]["reason"] == "重点客户"
    assert history[0]["user_name"]
    assert api_client(org.rep).get("/api/v1/cadence-plans").status_code == 403


def test_api_care_dates(org: Organisation, django_assert_max_num_queries: Any) -> None:
    admin = api_client(org.admin)
    for day in range(1, 6):
        CareDate.objects.create(date=date(2027, 1, day), name=f"节日{day}", kind=CareKind.PUBLIC)
    with django_assert_max_num_queries(8):
        page = admin.get("/api/v1/care-dates?from=2027-01-01&to=2027-12-31").json()
    assert page["count"] == 5
    assert page["items"][0]["name"] == "节日1"
    made = _json(admin, "post", "/api/v1/care-dates", {"date": "2027-03-08", "name": "客户答谢"})
    assert made.status_code == 201
    assert made.json()["kind"] == "custom"
    care_id = made.json()["id"]
    stale = _json(admin, "patch", f"/api/v1/care-dates/{care_id}", {"version": 9, "name": "y"})
    assert stale.status_code == 409
    wrong = _json(admin, "patch", f"/api/v1/care-dates/{care_id}", {"version": 1, "date": "x"})
    assert wrong.status_code == 422
    assert admin.delete(f"/api/v1/care-dates/{care_id}?reason=重复").status_code == 204


# --- pages -------------------------------------------------------------------------------------


def test_pages_list_edit_and_show_errors(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = Client()
    client.force_login(org.east_manager)
    for extra in range(3):
        team_plan(org, name=f"计划{extra}", grade="BCD"[extra], status="")
    with django_assert_max_num_queries(20):
        listing = client.get("/followups/plans/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "计划0" in text
    assert "意向客户：每 2 天跟进" in text
    refused = client.post(
        "/followups/plans/new/",
        {"name": "新计划", "interval_days": "2", "department": org.shanghai.pk},
    )
    assert refused.status_code == 200
    assert "Choose a customer status, a grade or both." in refused.content.decode() or (
        "请选择客户状态" in refused.content.decode()
    )
    company = company_plan()
    page = client.get(f"/followups/plans/{company.pk}/")
    assert page.status_code == 200
    assert 'id="read-only"' in page.content.decode()
    assert client.post(f"/followups/plans/{company.pk}/", {"name": "x"}).status_code == 403
    care = client.get(f"/followups/care-dates/?year={timezone.localdate().year}")
    assert care.status_code == 200
    rep = Client()
    rep.force_login(org.rep)
    assert rep.get("/followups/plans/").status_code == 403


def test_settings_area_links_the_rule_pages(org: Organisation) -> None:
    client = Client()
    client.force_login(org.admin)
    text = client.get("/accounts/settings/").content.decode()
    for url in ("/followups/plans/", "/followups/care-dates/", "/service/sla/"):
        assert f'href="{url}' in text, url
