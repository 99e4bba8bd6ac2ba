"""/api/v1/opportunities: CRUD, actions, errors, scope, masking, forecast, funnel."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kehu.core.testing.deals import prepare, win
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import CustomerShare
from kehu.opportunities import services
from kehu.opportunities.models import LossReason, Opportunity
from kehu.opportunities.tests.factories import (
    make_customer,
    make_opportunity,
    proposal_file,
    ready_for_proposal,
)

pytestmark = pytest.mark.django_db
BASE = "/api/v1/opportunities"


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def patch(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, json.dumps(body), content_type="application/json")


def test_create_get_list(org: Organisation) -> None:
    client = api_client(org.rep)
    customer = make_customer(org.rep)
    response = post(
        client,
        BASE,
        {
            "customer_id": customer.pk,
            "name": "产线改造",
            "amount": "350000",
            "expected_close": str(timezone.localdate() + timedelta(days=20)),
            "competitors": "竞品A",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stage"] == "initial_contact"
    assert body["amount"] == 350000.0
    assert body["probability"] == 10
    assert "months" in body["probability_basis"] or "个月" in body["probability_basis"]
    listed = client.get(BASE).json()
    assert listed["count"] == 1
    assert listed["items"][0]["id"] == body["id"]
    assert client.get(f"{BASE}/{body['id']}").json()["competitors"] == "竞品A"


def test_bad_input_answers_422_and_creates_nothing(org: Organisation) -> None:
    client = api_client(org.rep)
    customer = make_customer(org.rep)
    for bad in (
        {"amount": "-1"},
        {"amount": "99999999999999"},
        {"expected_close": "2000-01-01"},
        {"stage": "unknown"},
    ):
        response = post(client, BASE, {"customer_id": customer.pk, "name": "x", **bad})
        assert response.status_code == 422, (bad, response.content)
        assert response.json()["errors"]
    assert post(client, BASE, {"customer_id": 999999, "name": "x"}).status_code == 404
    assert not Opportunity.objects.exists()


def test_stage_move_422_lists_each_missing_requirement(org: Organisation) -> None:
    client = api_client(org.rep)
    deal = make_opportunity(org.rep, stage="needs_analysis", needs="CRM")
    response = post(client, f"{BASE}/{deal.pk}/stage", {"stage": "proposal", "version": 1})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "stage_requirements"
    assert set(body["errors"]) == {"amount", "proposal"}
    upload = client.post(
        f"{BASE}/{deal.pk}/attachments", {"kind": "proposal", "file": proposal_file()}
    )
    assert upload.status_code == 201, upload.content
    patched = patch(client, f"{BASE}/{deal.pk}", {"version": 1, "amount": "150000"})
    assert patched.status_code == 200, patched.content
    assert patched.json()["version"] == 2
    moved = post(client, f"{BASE}/{deal.pk}/stage", {"stage": "proposal", "version": 2})
    assert moved.status_code == 200, moved.content
    assert moved.json()["stage"] == "proposal"


def test_stale_version_409_and_nothing_changes(org: Organisation) -> None:
    client = api_client(org.rep)
    deal = ready_for_proposal(org.rep)
    response = post(client, f"{BASE}/{deal.pk}/stage", {"stage": "proposal", "version": 99})
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert patch(client, f"{BASE}/{deal.pk}", {"version": 99, "name": "y"}).status_code == 409
    deal.refresh_from_db()
    assert deal.stage.code == "needs_analysis"
    assert deal.name != "y"


def test_colleague_gets_404_everywhere(org: Organisation) -> None:
    deal = ready_for_proposal(org.rep)
    client = api_client(org.colleague)
    assert client.get(f"{BASE}/{deal.pk}").status_code == 404
    assert post(client, f"{BASE}/{deal.pk}/stage", {"stage": "proposal"}).status_code == 404
    assert patch(client, f"{BASE}/{deal.pk}", {"version": 1, "name": "x"}).status_code == 404
    assert post(client, f"{BASE}/{deal.pk}/win", {}).status_code == 404
    assert client.delete(f"{BASE}/{deal.pk}").status_code == 404
    assert client.get(BASE).json()["count"] == 0
    deal.refresh_from_db()
    assert deal.stage.code == "needs_analysis"


def test_shared_customer_shows_the_deal_with_amount_masked(org: Organisation) -> None:
    deal = ready_for_proposal(org.rep)
    CustomerShare.objects.create(customer=deal.customer, user=org.colleague, can_edit=False)
    client = api_client(org.colleague)
    body = client.get(f"{BASE}/{deal.pk}").json()
    assert body["amount"] is None
    assert body["weighted_amount"] is None
    assert body["name"] == deal.name
    listed = client.get(BASE, {"min_amount": "1"}).json()
    assert listed["count"] == 0  # masked amounts cannot be probed through the filter
    assert post(client, f"{BASE}/{deal.pk}/stage", {"stage": "proposal"}).status_code == 403
    manager = api_client(org.east_manager).get(f"{BASE}/{deal.pk}").json()
    assert manager["amount"] == 200000.0


def test_win_lose_and_lost_deal_cannot_move(org: Organisation) -> None:
    client = api_client(org.rep)
    deal = prepare(ready_for_proposal(org.rep), "won", org.rep)  # contract, first payment
    won = post(client, f"{BASE}/{deal.pk}/win", {"version": deal.version})
    assert won.status_code == 200, won.content
    assert won.json()["status"] == "won"
    assert post(client, f"{BASE}/{deal.pk}/win", {}).status_code == 409
    other = make_opportunity(org.rep)
    reason = LossReason.objects.first()
    assert reason is not None
    assert post(client, f"{BASE}/{other.pk}/lose", {"reason": 123456}).status_code == 422
    lost = post(client, f"{BASE}/{other.pk}/lose", {"reason": reason.pk, "note": "预算砍掉"})
    assert lost.json()["status"] == "lost"
    assert lost.json()["loss_note"] == "预算砍掉"
    refused = post(client, f"{BASE}/{other.pk}/stage", {"stage": "needs_analysis"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "deal_lost"


def test_delete_is_for_managers(org: Organisation) -> None:
    deal = make_opportunity(org.rep)
    assert api_client(org.rep).delete(f"{BASE}/{deal.pk}").status_code == 403
    assert api_client(org.east_manager).delete(f"{BASE}/{deal.pk}").status_code == 204
    assert not Opportunity.objects.exists()


def test_stages_and_loss_reasons(org: Organisation) -> None:
    client = api_client(org.rep)
    stages = client.get(f"{BASE}/stages").json()
    assert [stage["code"] for stage in stages][:3] == [
        "initial_contact",
        "needs_analysis",
        "proposal",
    ]
    assert stages[2]["requirements"] == ["amount", "proposal"]
    assert stages[2]["actions"]
    assert client.get(f"{BASE}/loss-reasons").json()


def test_filters(org: Organisation) -> None:
    client = api_client(org.east_manager)
    # 75 days out: never in the month of the factory's default close date (30 days out)
    close = timezone.localdate() + timedelta(days=75)
    make_opportunity(org.rep, amount=Decimal(1000), expected_close=close)
    make_opportunity(org.hangzhou_rep, amount=Decimal(900000))
    assert client.get(BASE).json()["count"] == 2
    assert client.get(BASE, {"owner": org.rep.pk}).json()["count"] == 1
    assert client.get(BASE, {"department": org.hangzhou.pk}).json()["count"] == 1
    assert client.get(BASE, {"department": org.east.pk}).json()["count"] == 2
    assert client.get(BASE, {"min_amount": "5000"}).json()["count"] == 1
    assert client.get(BASE, {"close_month": close.strftime("%Y-%m")}).json()["count"] == 1
    bad = client.get(BASE, {"close_month": "2024-13", "min_amount": "-3"})
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"close_month", "min_amount"}


def test_bad_filters_answer_check_the_filters_with_a_message_per_field(
    org: Organisation,
) -> None:
    client = api_client(org.east_manager)
    query = {"owner": "x", "status": "maybe", "close_month": "2024-13", "max_amount": "abc"}
    bad = client.get(BASE, query, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422
    assert bad.json() == {
        "detail": "Check the filters.",
        "code": "invalid",
        "errors": {
            "owner": ["Enter a whole number."],
            "status": ["Use open, won or lost."],
            "close_month": ["Enter the month as YYYY-MM."],
            "max_amount": ["Enter the amount as a number."],
        },
    }
    forecast = client.get(f"{BASE}/forecast", {"min_amount": "-1"}, HTTP_ACCEPT_LANGUAGE="en")
    assert forecast.status_code == 422
    assert forecast.json()["errors"] == {"min_amount": ["Enter an amount of zero or more."]}


def test_list_query_count_is_fixed(org: Organisation, django_assert_max_num_queries: Any) -> None:
    client = api_client(org.east_manager)
    for owner in (org.rep, org.colleague, org.hangzhou_rep):
        make_opportunity(owner, amount=Decimal(1000))
    client.get(BASE)  # warm the token's last-used stamp
    with django_assert_max_num_queries(8):
        response = client.get(BASE)
    assert response.json()["count"] == 3
    for owner in (org.rep, org.colleague, org.hangzhou_rep) * 3:
        make_opportunity(owner, amount=Decimal(1000))
    with django_assert_max_num_queries(8):
        assert client.get(BASE).json()["count"] == 12


def test_forecast_api(org: Organisation) -> None:
    today = timezone.localdate()
    close = today + timedelta(days=10)
    deal = ready_for_proposal(org.rep, expected_close=close)
    services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")
    make_opportunity(org.colleague, amount=Decimal(50000), expected_close=close)
    winner = ready_for_proposal(org.rep)
    win(winner, org.rep)
    client = api_client(org.east_manager)
    body = client.get(
        f"{BASE}/forecast",
        {"period": "quarter", "group": "owner", "start": str(today.replace(day=1))},
    ).json()
    rows = {row["group"]: row for row in body["rows"]}
    assert set(rows) >= {"rep", "colleague"} or len(body["rows"]) >= 2
    rep_rows = [row for row in body["rows"] if row["group_id"] == org.rep.pk]
    assert sum(row["won"] for row in rep_rows) == 200000.0
    assert sum(row["pipeline"] for row in rep_rows) == 200000.0
    assert sum(row["committed"] for row in rep_rows) == 400000.0
    total = body["totals"]
    assert sum(row["pipeline"] for row in total) == 250000.0
    assert sum(row["weighted"] for row in total) == 200000 * 0.7 + 50000 * 0.1
    assert client.get(f"{BASE}/forecast", {"period": "week"}).status_code == 422
    rep_view = api_client(org.rep).get(f"{BASE}/forecast", {"group": "none"}).json()
    assert all(row["group_id"] is None for row in rep_view["rows"])


def test_funnel_api(org: Organisation) -> None:
    reason = LossReason.objects.first()
    assert reason is not None
    proposal = ready_for_proposal(org.rep)
    services.opportunity_move_stage(actor=org.rep, opportunity=proposal, stage="proposal")
    won = ready_for_proposal(org.rep)
    win(won, org.rep)
    early = make_opportunity(org.rep)
    services.opportunity_lose(actor=org.rep, opportunity=early, reason=reason)
    body = api_client(org.rep).get(f"{BASE}/funnel").json()
    steps = {step["stage"]: step for step in body["steps"]}
    assert steps["initial_contact"]["count"] == 3
    assert steps["needs_analysis"]["count"] == 2
    assert steps["proposal"]["count"] == 2
    assert steps["won"]["count"] == 1
    assert steps["needs_analysis"]["conversion"] == round(2 / 3, 4)
    assert steps["won"]["amount"] == 200000.0
    assert "lost" not in steps


def test_list_rows_read_without_joins_equal_the_detail(org: Organisation) -> None:
    # The list reads its rows without the stage, loss reason and department joins
    # (selectors.opportunity_rows) and attaches them; each row must read as its detail does.
    reason = LossReason.objects.first()
    assert reason is not None
    make_opportunity(org.rep, amount=Decimal(5000))
    lost = make_opportunity(org.rep, amount=Decimal(7000))
    services.opportunity_lose(actor=org.rep, opportunity=lost, reason=reason)
    shared = make_opportunity(org.colleague, amount=Decimal(9000))
    CustomerShare.objects.create(customer=shared.customer, user=org.rep)
    client = api_client(org.rep)
    items = client.get(BASE).json()["items"]
    assert len(items) == 3
    for item in items:
        assert item == client.get(f"{BASE}/{item['id']}").json()
    assert {item["loss_reason"] for item in items} == {"", reason.label}
    assert [item["amount"] for item in items if item["id"] == shared.pk] == [None]
