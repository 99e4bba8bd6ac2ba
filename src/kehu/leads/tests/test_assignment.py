"""Assignment rules: region first, industry, round-robin, fallback pool, the daily batch."""

from __future__ import annotations

import time
from datetime import date

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext

from kehu.core import config
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.testing.factories import Organisation, api_client
from kehu.leads import services, tasks
from kehu.leads.models import (
    AssignmentRule,
    AssignmentRun,
    EventKind,
    Lead,
    LeadEvent,
    LeadStatus,
)
from kehu.leads.tests.conftest import HANGZHOU, PUDONG, SHANGHAI, SHENZHEN, LeadFactory
from kehu.notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch_only() -> None:
    config.put("leads.assign_on_capture", False)


def test_capture_assigns_by_region_with_round_robin(
    org: Organisation, east_rules: list[AssignmentRule], make_lead: LeadFactory
) -> None:
    first = make_lead(region=PUDONG)
    second = make_lead(region=SHANGHAI)
    third = make_lead(region=PUDONG)
    assert [first.assignee, second.assignee, third.assignee] == [org.rep, org.colleague, org.rep]
    assert first.status == LeadStatus.ASSIGNED
    assert first.department == org.shanghai
    assert first.confirm_due_at is not None
    assert (first.confirm_due_at - first.assigned_at).total_seconds() == 3600
    event = first.events.get(kind=EventKind.ASSIGNED)
    assert event.data["rule"] == "上海"
    notification = Notification.objects.get(recipient=org.rep, url__endswith=f"/{first.pk}/")
    assert str(first) in notification.title


def test_department_rule_and_fallback_pool(
    org: Organisation, east_rules: list[AssignmentRule], make_lead: LeadFactory
) -> None:
    zhejiang = make_lead(region=HANGZHOU)
    assert zhejiang.assignee == org.hangzhou_rep
    south = make_lead(region=SHENZHEN)
    assert south.assignee is None
    assert south.status == LeadStatus.POOL
    nowhere = make_lead()
    assert nowhere.status == LeadStatus.POOL


def test_industry_match_within_region_comes_first(
    org: Organisation, make_lead: LeadFactory
) -> None:
    services.rule_create(
        actor=org.admin,
        data={
            "name": "上海制造业",
            "region_codes": [SHANGHAI],
            "industry_codes": ["C"],
            "reps": [org.colleague],
        },
    )
    services.rule_create(
        actor=org.admin, data={"name": "上海", "region_codes": [SHANGHAI], "reps": [org.rep]}
    )
    assert make_lead(region=PUDONG, industry="34").assignee == org.colleague  # a C division
    assert make_lead(region=PUDONG, industry="F").assignee == org.rep
    assert make_lead(region=PUDONG).assignee == org.rep


def test_source_and_priority_conditions(org: Organisation, make_lead: LeadFactory) -> None:
    services.rule_create(
        actor=org.admin,
        data={
            "name": "S级转介绍",
            "sources": ["referral"],
            "priorities": ["S"],
            "reps": [org.south_rep],
        },
    )
    assert make_lead(source="referral", priority="S").assignee == org.south_rep
    assert make_lead(source="referral").assignee is None  # priority A


def test_inactive_reps_are_skipped(org: Organisation, make_lead: LeadFactory) -> None:
    services.rule_create(
        actor=org.admin,
        data={"name": "上海", "region_codes": [SHANGHAI], "reps": [org.rep, org.colleague]},
    )
    org.rep.is_active = False
    org.rep.save()
    assert {make_lead(region=PUDONG).assignee for _ in range(3)} == {org.colleague}


def test_scheduled_batch_runs_once_after_nine(
    org: Organisation, east_rules: list[AssignmentRule], make_lead: LeadFactory, batch_only: None
) -> None:
    with time_machine.travel("2026-03-02 22:00 +08:00", tick=False):
        leads = [make_lead(region=PUDONG) for _ in range(4)] + [make_lead(region=SHENZHEN)]
    assert all(lead.status == LeadStatus.POOL for lead in leads)
    with time_machine.travel("2026-03-03 08:55 +08:00", tick=False):
        assert tasks.assign_pooled_leads.call_local() == 0
        assert not AssignmentRun.objects.exists()
    with time_machine.travel("2026-03-03 09:00 +08:00", tick=False):
        assert tasks.assign_pooled_leads.call_local() == 4
        assert tasks.assign_pooled_leads.call_local() == 0  # once a day
    run = AssignmentRun.objects.get()
    assert run.scheduled_for == date(2026, 3, 3)
    assert (run.considered, run.assigned) == (5, 4)
    owners = list(
        Lead.objects.filter(region_id=PUDONG).order_by("pk").values_list("assignee", flat=True)
    )
    assert owners == [org.rep.pk, org.colleague.pk, org.rep.pk, org.colleague.pk]
    lead = Lead.objects.filter(region_id=PUDONG).first()
    assert lead is not None
    latest = lead.history.first()
    assert latest.history_change_reason == gettext("batch assignment")
    assert latest.history_user is None  # the scheduled job
    assert lead.events.filter(kind=EventKind.ASSIGNED).count() == 1
    assert Notification.objects.filter(recipient=org.rep, kind="lead_assigned").count() == 1
    assert Lead.objects.get(region_id=SHENZHEN).status == LeadStatus.POOL
    with time_machine.travel("2026-03-04 09:05 +08:00", tick=False):
        tasks.assign_pooled_leads.call_local()
    assert AssignmentRun.objects.count() == 2


def test_batch_time_is_configurable(
    org: Organisation, make_lead: LeadFactory, batch_only: None
) -> None:
    config.put("leads.batch_time", "07:30")
    make_lead()
    with time_machine.travel("2026-03-03 07:20 +08:00", tick=False):
        assert services.assignment_batch_if_due() is None
    with time_machine.travel("2026-03-03 07:31 +08:00", tick=False):
        assert services.assignment_batch_if_due() is not None


def test_round_robin_continues_between_capture_and_batch(
    org: Organisation, east_rules: list[AssignmentRule], make_lead: LeadFactory
) -> None:
    assert make_lead(region=PUDONG).assignee == org.rep
    config.put("leads.assign_on_capture", False)
    make_lead(region=PUDONG)
    services.assignment_batch(actor=org.admin)
    assert Lead.objects.order_by("pk").last().assignee == org.colleague  # type: ignore[union-attr]
    east_rules[0].refresh_from_db()
    assert east_rules[0].cursor == 2


def test_batch_is_fast_and_uses_a_fixed_number_of_queries(
    org: Organisation, east_rules: list[AssignmentRule], django_assert_max_num_queries: object
) -> None:
    from kehu.customers.models import Region
    from kehu.leads.models import Lead as LeadModel

    cities = list(Region.objects.filter(code__startswith="31").values_list("code", flat=True))
    count = 6000
    LeadModel.objects.bulk_create(
        LeadModel(
            contact_name=f"批量{n}",
            mobile=f"+86138{n:08d}",
            source="website",
            priority="B",
            region_id=cities[n % len(cities)],
        )
        for n in range(count)
    )
    reverse("leads:mine")  # load the URL configuration outside the measurement
    started = time.perf_counter()
    # a bounded number per chunk of 2,000 leads (SQLite caps the rows per INSERT)
    with django_assert_max_num_queries(100):  # type: ignore[operator]
        run = services.assignment_batch(actor=org.admin)
    elapsed = time.perf_counter() - started
    assert run.assigned == count
    assert LeadModel.objects.filter(assignee=org.rep, status="assigned").count() == count // 2
    history = LeadModel.history.filter(history_type="~")
    assert history.count() == count
    assert history.filter(assignee=org.colleague, history_user=org.admin).count() == count // 2
    assert LeadEvent.objects.filter(kind=EventKind.ASSIGNED).count() == count
    rate = count / elapsed
    assert rate > 2000  # the target is 5,000/s on production hardware; guard against regressions


def test_dry_run_changes_nothing(
    org: Organisation, east_rules: list[AssignmentRule], make_lead: LeadFactory, batch_only: None
) -> None:
    leads = [make_lead(region=PUDONG), make_lead(region=PUDONG), make_lead(region=SHENZHEN)]
    response = api_client(org.east_manager).post(
        "/api/v1/leads/assignment/dry-run", data={}, content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert [row["assignee_id"] for row in body["items"]] == [org.rep.pk, org.colleague.pk, None]
    assert body["unmatched"] == 1
    assert all(
        lead.status == LeadStatus.POOL for lead in Lead.objects.filter(pk__in=[x.pk for x in leads])
    )
    east_rules[0].refresh_from_db()
    assert east_rules[0].cursor == 0
    rep = api_client(org.rep).post(
        "/api/v1/leads/assignment/dry-run", data={}, content_type="application/json"
    )
    assert rep.status_code == 403
    client = Client()
    client.force_login(org.admin)
    page = client.get(reverse("leads:dry_run"))
    assert page.status_code == 200
    assert len(page.context["rows"]) == 3


def test_rules_api_is_admin_only(org: Organisation, east_rules: list[AssignmentRule]) -> None:
    assert api_client(org.rep).get("/api/v1/leads/rules").status_code == 403
    assert api_client(org.east_manager).get("/api/v1/leads/rules").status_code == 403
    admin = api_client(org.admin)
    rules = admin.get("/api/v1/leads/rules").json()
    assert [r["name"] for r in rules] == ["上海", "浙江"]
    created = admin.post(
        "/api/v1/leads/rules",
        data={"name": "华南", "region_codes": ["440000"], "department_id": org.south.pk},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    new_id = created.json()["id"]
    reordered = admin.post(
        "/api/v1/leads/rules/order",
        data={"rule_ids": [new_id, east_rules[0].pk, east_rules[1].pk]},
        content_type="application/json",
    )
    assert [r["name"] for r in reordered.json()] == ["华南", "上海", "浙江"]
    patched = admin.patch(
        f"/api/v1/leads/rules/{new_id}",
        data={"version": created.json()["version"], "is_active": False},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["is_active"] is False
    bad = admin.post(
        "/api/v1/leads/rules",
        data={"name": "错", "region_codes": ["999999"], "rep_ids": [org.rep.pk]},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "region_codes" in bad.json()["errors"]


def test_rule_needs_a_target_and_admin(org: Organisation) -> None:
    with pytest.raises(InvalidInput):
        services.rule_create(actor=org.admin, data={"name": "空"})
    with pytest.raises(Forbidden):
        services.rule_create(actor=org.east_manager, data={"name": "x", "reps": [org.rep]})
    assert not AssignmentRule.objects.exists()


def test_rule_editor_ui(org: Organisation, east_rules: list[AssignmentRule]) -> None:
    client = Client()
    client.force_login(org.admin)
    assert client.get(reverse("leads:rules")).status_code == 200
    response = client.post(
        reverse("leads:rule_create"),
        {"name": "广东", "region_codes": ["440000"], "department": org.south.pk, "is_active": "on"},
    )
    assert response.status_code == 302
    rule = AssignmentRule.objects.get(name="广东")
    assert rule.position == 3
    client.post(reverse("leads:rule_move", args=[rule.pk]), {"direction": "up"})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["上海", "广东", "浙江"]
    edit = client.post(
        reverse("leads:rule_edit", args=[rule.pk]),
        {"name": "广东省", "department": org.south.pk, "version": rule.version},
    )
    assert edit.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "广东省"
    assert rule.region_codes == []
    client.post(reverse("leads:rule_delete", args=[rule.pk]))
    assert not AssignmentRule.objects.filter(pk=rule.pk).exists()
    rep = Client()
    rep.force_login(org.rep)
    assert rep.get(reverse("leads:rules")).status_code == 403


@pytest.mark.parametrize("version", ["", "abc", "²", "9" * 40])
def test_rule_edit_with_a_garbled_version_is_a_form_error(
    org: Organisation, east_rules: list[AssignmentRule], version: str
) -> None:
    # issue 34 (the UI fuzzer): a non-numeric version answered 500.
    rule = east_rules[0]
    client = Client()
    client.force_login(org.admin)
    response = client.post(
        reverse("leads:rule_edit", args=[rule.pk]),
        {"name": "改名", "reps": [org.rep.pk], "version": version},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    rule.refresh_from_db()
    assert rule.name == "上海"


def test_manual_assignment_scope(org: Organisation, make_lead: LeadFactory) -> None:
    lead = make_lead()
    client = api_client(org.east_manager)
    wrong = client.post(
        f"/api/v1/leads/{lead.pk}/assign",
        data={"assignee_id": org.south_rep.pk},
        content_type="application/json",
    )
    assert wrong.status_code == 422
    ok = client.post(
        f"/api/v1/leads/{lead.pk}/assign",
        data={"assignee_id": org.hangzhou_rep.pk},
        content_type="application/json",
    )
    assert ok.status_code == 200
    assert ok.json()["assignee_id"] == org.hangzhou_rep.pk
    south = api_client(org.south_manager).post(
        f"/api/v1/leads/{lead.pk}/assign",
        data={"assignee_id": org.south_rep.pk},
        content_type="application/json",
    )
    assert south.status_code == 404  # no longer in the pool, not their department
    rep = api_client(org.hangzhou_rep).post(
        f"/api/v1/leads/{lead.pk}/assign",
        data={"assignee_id": org.rep.pk},
        content_type="application/json",
    )
    assert rep.status_code == 403
    assert Lead.objects.get(pk=lead.pk).assignee == org.hangzhou_rep


def test_rule_move_is_a_service(org: Organisation, east_rules: list[AssignmentRule]) -> None:
    first, second = east_rules
    services.rule_move(actor=org.admin, rule_id=second.pk, up=True)
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["浙江", "上海"]
    services.rule_move(actor=org.admin, rule_id=second.pk, up=True)  # already first: no change
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["浙江", "上海"]
    with pytest.raises(NotFound):
        services.rule_move(actor=org.admin, rule_id=first.pk + second.pk, up=True)
    with pytest.raises(Forbidden):
        services.rule_move(actor=org.east_manager, rule_id=first.pk, up=False)


def test_dry_run_is_refused_by_the_service_to_reps(
    org: Organisation, make_lead: LeadFactory
) -> None:
    lead = make_lead(region=PUDONG)
    with pytest.raises(Forbidden):
        services.assignment_dry_run(actor=org.rep, leads=[lead])
    assert services.assignment_dry_run(actor=org.east_manager, leads=[lead]) == [None]
    response = api_client(org.rep).post(
        "/api/v1/leads/assignment/dry-run", {}, content_type="application/json"
    )
    assert response.status_code == 403
