"""Churn-risk and value scores: each reason on hand-made records, weights from the settings,
the job and the incremental path agreeing, the reports' scope and query counts, the actions."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kehu.analytics import registry
from kehu.analytics.models import CustomerScore
from kehu.analytics.reporting import ReportFilters
from kehu.analytics.selectors import scores as selectors
from kehu.analytics.services import scores
from kehu.analytics.tests.scores_support import (
    complaint,
    followup,
    make_customer,
    survey,
    touch,
    won_deal,
)
from kehu.core import config
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.followups.models import Task, TaskKind

pytestmark = pytest.mark.django_db


def scored(customer: Customer) -> CustomerScore:
    scores.recompute([customer.pk])
    return CustomerScore.objects.get(pk=customer.pk)


def codes(reasons: list[dict[str, Any]]) -> set[str]:
    return {reason["code"] for reason in reasons}


# --- each reason on hand-made data ------------------------------------------------------------


def test_a_quiet_fresh_customer_has_no_reasons(org: Organisation) -> None:
    customer = make_customer(org.rep)
    touch(customer, 2)
    row = scored(customer)
    assert row.churn_reasons == []
    assert row.churn_score == 0
    assert row.value_reasons == []
    assert row.value_score == 0
    assert not row.is_churn_risk
    assert not row.is_high_value


def test_no_activity_for_90_days(org: Organisation) -> None:
    customer = make_customer(org.rep)
    touch(customer, 95)
    row = scored(customer)
    assert row.churn_reasons == [{"code": "no_activity", "days": 95}]
    assert row.churn_score == 30
    quiet = make_customer(org.rep)
    touch(quiet, 40)
    assert scored(quiet).churn_reasons == [{"code": "quiet", "days": 40}]
    assert CustomerScore.objects.get(pk=quiet.pk).churn_score == 15


def test_last_two_feedbacks_negative(org: Organisation) -> None:
    customer = make_customer(org.rep)
    touch(customer, 1)
    followup(customer, 20, "positive")
    followup(customer, 10, "negative")
    followup(customer, 1, "negative")
    row = scored(customer)
    assert {"code": "negative_feedback", "count": 2} in row.churn_reasons
    assert row.churn_score == 20


def test_declining_sentiment(org: Organisation) -> None:
    customer = make_customer(org.rep)
    touch(customer, 1)
    followup(customer, 30, "positive")
    followup(customer, 20, "positive")
    followup(customer, 1, "negative")
    row = scored(customer)
    assert codes(row.churn_reasons) == {"sentiment_declining"}
    assert row.churn_score == 10


def test_latest_renewal_intent_counts(org: Organisation) -> None:
    customer = make_customer(org.rep)
    touch(customer, 1)
    followup(customer, 20, renewal_intent="likely")
    followup(customer, 5, renewal_intent="unlikely")
    followup(customer, 1)  # no intent given: the latest given one stands
    row = scored(customer)
    assert codes(row.churn_reasons) == {"renewal_unlikely"}
    assert row.churn_score == 25
    followup(customer, 0.5, renewal_intent="undecided")
    row = scored(customer)
    assert codes(row.churn_reasons) == {"renewal_undecided"}
    assert row.churn_score == 12


def test_need_changed_recently(org: Organisation) -> None:
    customer = make_customer(org.rep)
    touch(customer, 1)
    assert "need_changed" not in codes(scored(customer).churn_reasons)
    customer_services.customer_update(
        actor=org.rep, customer=customer, changes={"initial_need": "改为需要MES系统集成"}
    )
    row = scored(customer)
    assert {"code": "need_changed", "days": 90} in row.churn_reasons
    assert row.churn_score == 10


def test_open_complaints_and_low_satisfaction(org: Organisation) -> None:
    customer = make_customer(org.rep)
    touch(customer, 1)
    complaint(customer)
    complaint(customer)
    complaint(customer, status="resolved")  # resolved: does not count
    survey(customer, 2)
    survey(customer, 3)
    row = scored(customer)
    assert {"code": "open_complaints", "count": 2} in row.churn_reasons
    assert {"code": "low_satisfaction", "average": 2.5} in row.churn_reasons
    assert row.churn_score == 15 + 10


def test_value_reasons_and_strategic_customer(org: Organisation) -> None:
    customer = make_customer(org.rep)
    touch(customer, 1)
    won_deal(customer, "300000", 30)
    won_deal(customer, "250000", 100)
    won_deal(customer, "90000", 500)  # older than a year: an order, not this year's amount
    row = scored(customer)
    assert {"code": "strategic", "amount": "550000"} in row.value_reasons
    assert {"code": "orders", "count": 2} in row.value_reasons
    assert row.orders_total == 3
    assert row.orders_year == 2
    assert str(row.won_amount_year) == "550000.00"
    # amount 50 (≥ 50万) + frequency 25 * 2/4 + average order 25 * min(1, 213333/200000)
    assert row.value_score == round(50 + 25 * 2 / 4 + 25)
    assert row.is_high_value
    assert "large_orders" in codes(row.value_reasons)


def test_reasons_render_translated(org: Organisation) -> None:
    from django.utils import translation

    reasons = [{"code": "no_activity", "days": 90}, {"code": "negative_feedback", "count": 2}]
    with translation.override("zh-hans"):
        text = selectors.reasons_text(reasons)
    assert text == "90 天无跟进；最近两次反馈负面"
    with translation.override("en"):
        assert selectors.reasons_text(reasons) == (
            "No follow-up for 90 days; The last two feedbacks were negative"
        )


# --- settings ---------------------------------------------------------------------------------


def test_weights_and_thresholds_come_from_the_settings(org: Organisation) -> None:
    customer = make_customer(org.rep)
    touch(customer, 95)
    complaint(customer)
    row = scored(customer)
    assert row.churn_score == 45
    assert not row.is_churn_risk
    weights = {"inactivity": 40, "complaints": 30}
    config.put(
        scores.CHURN_WEIGHTS.key,
        {key: weights.get(key, 0) for key in scores.CHURN_WEIGHTS.default},
    )
    row = scored(customer)
    assert row.churn_score == 70
    assert row.is_churn_risk
    config.put(scores.CHURN_THRESHOLD.key, 80)
    assert not scored(customer).is_churn_risk
    config.put(scores.INACTIVE_DAYS.key, 120)
    row = scored(customer)
    assert {"code": "quiet", "days": 95} in row.churn_reasons
    config.put(scores.STRATEGIC_AMOUNT.key, 100000)
    won_deal(customer, "120000")
    assert "strategic" in codes(scored(customer).value_reasons)


# --- the job and the incremental path ---------------------------------------------------------


def _snapshot() -> dict[int, tuple[Any, ...]]:
    return {
        row.pk: (
            row.churn_score,
            row.churn_reasons,
            row.value_score,
            row.value_reasons,
            row.won_amount_year,
            row.orders_year,
        )
        for row in CustomerScore.objects.all()
    }


def test_job_and_incremental_agree_on_random_data(org: Organisation) -> None:
    rng = random.Random(28)
    reps = [org.rep, org.colleague, org.south_rep]
    customers = [make_customer(rng.choice(reps)) for _ in range(25)]
    for customer in customers:
        touch(customer, rng.choice([1, 20, 45, 100, 200]))
        for _ in range(rng.randint(0, 4)):
            followup(
                customer,
                rng.uniform(0, 300),
                rng.choice(["positive", "neutral", "negative"]),
                renewal_intent=rng.choice(["", "", "likely", "undecided", "unlikely"]),
            )
        for _ in range(rng.randint(0, 3)):
            won_deal(customer, str(rng.randint(1, 40) * 10000), rng.uniform(1, 500))
        if rng.random() < 0.3:
            complaint(customer)
        if rng.random() < 0.3:
            survey(customer, rng.randint(1, 5))
    now = timezone.now()
    assert scores.recompute_all(now=now, batch_size=7) == len(customers)
    by_job = _snapshot()
    CustomerScore.objects.update(churn_score=0, churn_reasons=[], value_score=0)
    for customer in customers:  # one at a time, as the hooks do
        scores.recompute([customer.pk], now=now)
    assert _snapshot() == by_job
    assert any(v[0] > 0 for v in by_job.values())
    assert any(v[2] > 0 for v in by_job.values())


def test_batch_reads_a_fixed_number_of_queries(org: Organisation) -> None:
    few = [make_customer(org.rep) for _ in range(2)]
    scores.recompute([few[0].pk])  # the settings are read once and cached
    with CaptureQueriesContext(connection) as small:
        scores.recompute([c.pk for c in few])
    many = [make_customer(org.rep) for _ in range(12)]
    for customer in many:
        followup(customer, 3, "negative")
        won_deal(customer, "1000")
    with CaptureQueriesContext(connection) as large:
        scores.recompute([c.pk for c in few + many])
    assert len(large.captured_queries) == len(small.captured_queries)


def test_changes_recompute_incrementally(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    from kehu.followups import services as followup_services

    with django_capture_on_commit_callbacks(execute=True):
        customer = make_customer(org.rep)
    touch(customer, 1)
    scores.recompute([customer.pk])
    with django_capture_on_commit_callbacks(execute=True):
        followup_services.followup_create(
            actor=org.rep,
            customer=customer,
            data={
                "method": "phone",
                "content": "客户表示明年不续约",
                "sentiment": "negative",
                "sentiment_reason": "价格",
                "renewal_intent": "unlikely",
            },
        )
    assert "renewal_unlikely" in codes(CustomerScore.objects.get(pk=customer.pk).churn_reasons)
    with django_capture_on_commit_callbacks(execute=True):
        complaint(customer)
    assert "open_complaints" in codes(CustomerScore.objects.get(pk=customer.pk).churn_reasons)
    with django_capture_on_commit_callbacks(execute=True):
        fresh = make_customer(org.rep)  # customers' on_customers_changed report
    assert CustomerScore.objects.filter(pk=fresh.pk).exists()
    CustomerScore.objects.filter(pk=fresh.pk).update(churn_score=99, churn_reasons=[])
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(
            actor=org.rep, customer=fresh, changes={"initial_need": "新增需求"}
        )
    assert CustomerScore.objects.get(pk=fresh.pk).churn_score != 99


def test_the_job_keeps_the_plan_owner(org: Organisation) -> None:
    customer = make_customer(org.rep)
    scores.assign_plan_owner(actor=org.rep, customer_id=customer.pk, user_id=org.rep.pk)
    scores.recompute_all()
    assert CustomerScore.objects.get(pk=customer.pk).plan_owner_id == org.rep.pk


# --- reports: scope and queries ---------------------------------------------------------------


@pytest.fixture
def scored_org(org: Organisation) -> dict[str, Customer]:
    made = {}
    for name, owner in (("rep", org.rep), ("colleague", org.colleague), ("south", org.south_rep)):
        customer = make_customer(owner, name=f"{name}流失风险客户有限公司")
        touch(customer, 120)
        followup(customer, 130, "negative", renewal_intent="unlikely")
        followup(customer, 125, "negative")
        won_deal(customer, "600000")
        made[name] = customer
    scores.recompute_all()
    return made


def _listed(user: Any, key: str) -> set[int]:
    spec = registry.report_spec(user, key)
    today = timezone.localdate()
    report = spec.build(user, ReportFilters(today - timedelta(days=200), today))
    return {row["customer_id"] for row in report.tables[0].rows}


def test_lists_respect_the_scope(org: Organisation, scored_org: dict[str, Customer]) -> None:
    rep, colleague, south = (scored_org[k].pk for k in ("rep", "colleague", "south"))
    for key in ("churn-risk", "high-value"):
        assert _listed(org.rep, key) == {rep}
        assert _listed(org.east_manager, key) == {rep, colleague}
        assert _listed(org.admin, key) == {rep, colleague, south}
        assert _listed(org.south_manager, key) == {south}


def test_report_summary_keys(org: Organisation, scored_org: dict[str, Customer]) -> None:
    today = timezone.localdate()
    filters = ReportFilters(today - timedelta(days=200), today)
    churn = registry.report_spec(org.east_manager, "churn-risk").build(org.east_manager, filters)
    summary = {key: value for key, _label, value, _kind in churn.summary}
    assert summary == {
        "at_risk": 2,
        "renewal_likely": 0,
        "renewal_undecided": 0,
        "renewal_unlikely": 2,
    }
    row = churn.tables[0].rows[0]
    assert "120 天无跟进" in row["reasons"]
    value = registry.report_spec(org.admin, "high-value").build(org.admin, filters)
    summary = {key: value for key, _label, value, _kind in value.summary}
    assert summary["high_value"] == 3
    assert float(summary["won_amount_year"]) == 1800000


def test_amounts_of_other_customers_are_masked(
    org: Organisation, scored_org: dict[str, Customer]
) -> None:
    customer = scored_org["colleague"]
    from kehu.customers.models import CustomerShare

    CustomerShare.objects.create(customer=customer, user=org.rep, can_edit=False)
    entry = selectors.customer_score(org.rep, customer.pk)
    assert entry["won_amount_year"] is None
    assert "600000" not in entry["value_text"]
    assert selectors.customer_score(org.colleague, customer.pk)["won_amount_year"] is not None


@pytest.mark.parametrize("key", ["churn-risk", "high-value"])
@pytest.mark.parametrize("actor", ["rep", "east_manager", "admin"])
def test_reports_run_a_fixed_number_of_queries(
    org: Organisation,
    scored_org: dict[str, Customer],
    key: str,
    actor: str,
    django_assert_max_num_queries: Any,
) -> None:
    user = getattr(org, actor)
    for _ in range(6):
        extra = make_customer(user if actor != "admin" else org.rep)
        touch(extra, 100)
        followup(extra, 99, "negative", renewal_intent="unlikely")
        followup(extra, 98, "negative")
        won_deal(extra, "700000")
    scores.recompute_all()
    client = api_client(user)
    with django_assert_max_num_queries(12):
        response = client.get(f"/api/v1/reports/{key}")
    assert response.status_code == 200
    assert len(response.json()["tables"][0]["rows"]) >= 7


# --- API and pages ----------------------------------------------------------------------------


def test_api_score_and_actions(org: Organisation, scored_org: dict[str, Customer]) -> None:
    customer = scored_org["rep"]
    client = api_client(org.rep)
    body = client.get(f"/api/v1/scores/{customer.pk}").json()
    assert body["is_churn_risk"]
    assert body["churn_reasons"][0]["code"] == "no_activity"
    assert body["churn_reasons"][0]["params"] == {"days": 120}
    due = (timezone.localdate() + timedelta(days=2)).isoformat()
    response = client.post(
        f"/api/v1/scores/{customer.pk}/retention-task",
        json.dumps({"kind": "senior_revisit", "due_on": due, "note": "请总经理出面"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    task = Task.objects.get(pk=response.json()["id"])
    assert task.kind == TaskKind.RETENTION
    assert task.assignee_id == org.rep.pk
    assert "120 天无跟进" in task.description
    assert "请总经理出面" in task.description
    response = client.post(
        f"/api/v1/scores/{customer.pk}/plan-owner",
        json.dumps({"user_id": org.rep.pk}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["plan_owner_id"] == org.rep.pk
    assert Task.objects.filter(customer=customer, kind=TaskKind.VALUE_PLAN).exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("retention-task", {"kind": "party"}, "kind"),
        ("retention-task", {"kind": "offer_review", "due_on": "2020-01-01"}, "due_on"),
        ("retention-task", {"kind": "offer_review", "note": "x" * 2001}, "note"),
        ("plan-owner", {"user_id": 999999}, "user_id"),
    ],
)
def test_api_bad_input_is_422(
    org: Organisation, scored_org: dict[str, Customer], path: str, body: dict[str, Any], field: str
) -> None:
    customer = scored_org["rep"]
    response = api_client(org.rep).post(
        f"/api/v1/scores/{customer.pk}/{path}", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]


def test_plan_owner_must_see_the_customer(
    org: Organisation, scored_org: dict[str, Customer]
) -> None:
    response = api_client(org.east_manager).post(
        f"/api/v1/scores/{scored_org['rep'].pk}/plan-owner",
        json.dumps({"user_id": org.south_rep.pk}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "user_id" in response.json()["errors"]


def test_customer_page_section_and_report_page(
    org: Organisation, scored_org: dict[str, Customer]
) -> None:
    client = Client()
    client.force_login(org.rep)
    customer = scored_org["rep"]
    response = client.get(reverse("customers:tab", args=[customer.pk, "scores"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-churn-score" in html
    assert "120 天无跟进；最近两次反馈负面" in html
    page = client.get(reverse("analytics:report", args=["churn-risk"]))
    assert page.status_code == 200
    assert reverse("analytics:score_retention", args=[customer.pk]) in page.content.decode()
    outside = client.get(reverse("customers:tab", args=[scored_org["south"].pk, "scores"]))
    assert outside.status_code == 404


def test_retention_form_creates_the_task(
    org: Organisation, scored_org: dict[str, Customer]
) -> None:
    client = Client()
    client.force_login(org.east_manager)
    customer = scored_org["rep"]
    url = reverse("analytics:score_retention", args=[customer.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"kind": "offer_review", "due_on": date.today().isoformat()})
    assert response.status_code == 302
    task = Task.objects.get(customer=customer, kind=TaskKind.RETENTION)
    assert task.assignee_id == org.rep.pk
    assert task.created_by_id == org.east_manager.pk


def test_demo_step_gives_intents_and_scores_every_customer(org: Organisation) -> None:
    from kehu.analytics.demo_scores import SCORES
    from kehu.core.demo import DemoRun
    from kehu.followups.models import FollowUp

    customers = [make_customer(org.rep) for _ in range(4)]
    for customer in customers:
        for day in range(15):
            followup(customer, day + 1)
    made = SCORES.run(DemoRun(customers=4, seed=1))
    assert CustomerScore.objects.count() == Customer.objects.count() == 4
    assert FollowUp.objects.exclude(renewal_intent="").exists()
    assert "4 customers scored" in made


def test_counts_on_the_score_columns_match_a_recount_through_the_customers(
    org: Organisation,
) -> None:
    from kehu.customers.models import CustomerShare

    rng = random.Random(7)
    owners = [org.rep, org.colleague, org.hangzhou_rep, org.south_rep]
    for _ in range(30):
        customer = make_customer(rng.choice(owners))
        touch(customer, rng.choice([1, 100, 200]))
        if rng.random() < 0.5:
            won_deal(customer, str(rng.randint(20, 90) * 10000))
        if rng.random() < 0.4:
            complaint(customer)
        if rng.random() < 0.2:
            CustomerShare.objects.create(customer=customer, user=org.rep, can_edit=False)
    scores.recompute_all()
    today = timezone.localdate()
    filters = ReportFilters(today - timedelta(days=90), today)
    checked = 0
    for user in (org.rep, org.colleague, org.east_manager, org.south_manager, org.admin):
        for kind in ("churn", "value"):
            fast = selectors.score_counts(user, filters, kind=kind)
            direct = selectors._joined_counts(user, filters, kind=kind)
            assert {k: float(v) for k, v in fast.items()} == {
                k: float(v) for k, v in direct.items()
            }, (user, kind)
            checked += sum(float(v) for v in fast.values())
    assert checked > 0


def test_a_new_owner_moves_the_score_into_their_counts(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        customer = make_customer(org.rep)
    touch(customer, 200)
    scores.recompute([customer.pk])
    today = timezone.localdate()
    filters = ReportFilters(today - timedelta(days=90), today)
    assert selectors.score_counts(org.rep, filters, kind="churn") == {"at_risk": 0}
    config.put(scores.CHURN_THRESHOLD.key, 45)
    with django_capture_on_commit_callbacks(execute=True):
        complaint(customer)  # 30 (200 days quiet) + 15 (a complaint) = 45, through the hook
    assert selectors.score_counts(org.rep, filters, kind="churn") == {"at_risk": 1}
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_reassign(
            actor=org.admin, customer=customer, owner=org.colleague, reason="调岗"
        )
    assert selectors.score_counts(org.rep, filters, kind="churn") == {"at_risk": 0}
    assert selectors.score_counts(org.colleague, filters, kind="churn") == {"at_risk": 1}
