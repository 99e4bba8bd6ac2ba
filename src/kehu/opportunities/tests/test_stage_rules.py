"""Stage criteria cannot be skipped; moves back need a reason; optional stages; the sensitive
negotiation fields (底线价格, 可让步条件) on every path."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from kehu.core import config
from kehu.core.errors import InvalidInput
from kehu.core.testing.deals import advance, prepare, win
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import CustomerStatus
from kehu.opportunities import services
from kehu.opportunities.models import Opportunity, Stage, StageChange
from kehu.opportunities.tests.factories import make_customer, make_opportunity, proposal_file

pytestmark = pytest.mark.django_db
BASE = "/api/v1/opportunities"


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stage_codes(deal: Opportunity) -> list[str]:
    return list(
        StageChange.objects.filter(opportunity=deal)
        .order_by("id")
        .values_list("stage__code", flat=True)
    )


# --- skipping stages ---------------------------------------------------------------------------


def test_skip_to_negotiation_lists_each_missing_item_per_stage(org: Organisation) -> None:
    deal = make_opportunity(org.rep)  # 初步接触: no needs, no amount, no proposal
    with pytest.raises(InvalidInput) as refused:
        services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")
    error = refused.value
    assert error.code == "stage_requirements"
    assert [
        (step["stage"], [r["code"] for r in step["requirements"]])
        for step in error.extra["missing"]
    ] == [
        ("needs_analysis", ["needs"]),
        ("proposal", ["amount", "proposal"]),
        ("negotiation", ["amount"]),  # the close date was given at creation
    ]
    assert len(error.errors["needs"]) == 1
    assert "需求分析" in error.errors["needs"][0]
    assert len(error.errors["amount"]) == 2  # demanded by 方案提交 and by 谈判签约
    assert set(error.errors) == {"needs", "amount", "proposal"}
    for name in ("需求分析", "方案提交", "谈判签约"):
        assert name in error.detail
    deal.refresh_from_db()
    assert (deal.stage.code, deal.version) == ("initial_contact", 1)
    assert stage_codes(deal) == ["initial_contact"]


def test_skip_is_accepted_once_every_skipped_stage_is_met(org: Organisation) -> None:
    deal = make_opportunity(org.rep)
    deal = services.opportunity_update(
        actor=org.rep, opportunity=deal, data={"needs": "MES", "amount": "300000"}
    )
    with pytest.raises(InvalidInput) as refused:
        services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")
    assert set(refused.value.errors) == {"proposal"}  # the one thing still missing
    services.attachment_add(actor=org.rep, opportunity=deal, kind="proposal", file=proposal_file())
    moved = services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")
    assert moved.stage.code == "negotiation"
    assert stage_codes(moved) == ["initial_contact", "negotiation"]
    assert moved.furthest_stage_order == 40


def test_an_optional_stage_may_be_skipped_but_not_entered_unmet(org: Organisation) -> None:
    proposal = Stage.objects.get(code="proposal")
    proposal.is_optional = True
    services.stage_save(actor=org.admin, stage=proposal)
    deal = make_opportunity(org.rep, needs="MES", amount=Decimal(50000))
    with pytest.raises(InvalidInput) as refused:  # entering it still needs its proposal
        services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="proposal")
    assert set(refused.value.errors) == {"proposal"}
    moved = services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")
    assert moved.stage.code == "negotiation"


def test_inactive_stages_are_not_demanded(org: Organisation) -> None:
    Stage.objects.filter(code="proposal").update(is_active=False)
    deal = make_opportunity(org.rep, needs="MES", amount=Decimal(50000))
    moved = services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")
    assert moved.stage.code == "negotiation"


def test_win_goes_through_the_same_check(org: Organisation) -> None:
    deal = make_opportunity(org.rep, amount=Decimal(80000))
    with pytest.raises(InvalidInput) as refused:
        services.opportunity_win(actor=org.rep, opportunity=deal)
    assert [step["stage"] for step in refused.value.extra["missing"]] == [
        "needs_analysis",
        "proposal",
        "won",  # its approved contract and first payment
    ]
    deal.customer.refresh_from_db()
    assert deal.customer.status != CustomerStatus.WON
    won = win(deal, org.rep)  # the test helper meets each stage's criteria, then wins
    assert won.stage.code == "won"
    won.customer.refresh_from_db()
    assert won.customer.status == CustomerStatus.WON


def test_winning_straight_into_paid_needs_the_won_stage_too(org: Organisation) -> None:
    Stage.objects.filter(code="won").update(requirements=["amount", "contract"])
    deal = prepare(make_opportunity(org.rep), "negotiation", org.rep)
    with pytest.raises(InvalidInput) as refused:
        services.opportunity_win(actor=org.rep, opportunity=deal, stage="paid")
    assert [step["stage"] for step in refused.value.extra["missing"]] == ["won"]
    assert advance(deal, "paid", org.rep).stage.code == "paid"


def test_a_new_deal_cannot_start_past_unmet_stages(org: Organisation) -> None:
    customer = make_customer(org.rep)
    data = {"name": "直接谈判", "amount": "90000", "needs": "CRM", "stage": "negotiation"}
    with pytest.raises(InvalidInput) as refused:
        services.opportunity_create(actor=org.rep, customer=customer, data=data)
    assert set(refused.value.errors) == {"proposal", "expected_close"}
    assert not Opportunity.objects.filter(customer=customer).exists()
    started = services.opportunity_create(
        actor=org.rep, customer=customer, data={**data, "stage": "needs_analysis"}
    )
    assert started.stage.code == "needs_analysis"


# --- moving back -------------------------------------------------------------------------------


def test_moving_back_needs_a_reason_kept_in_both_histories(org: Organisation) -> None:
    deal = advance(make_opportunity(org.rep), "proposal", org.rep)
    for reason in ("", "   "):
        with pytest.raises(InvalidInput) as refused:
            services.opportunity_move_stage(
                actor=org.rep, opportunity=deal, stage="needs_analysis", reason=reason
            )
        assert refused.value.code == "reason_required"
        assert "reason" in refused.value.errors
    with pytest.raises(InvalidInput) as too_long:
        services.opportunity_move_stage(
            actor=org.rep, opportunity=deal, stage="needs_analysis", reason="长" * 501
        )
    assert "reason" in too_long.value.errors
    back = services.opportunity_move_stage(
        actor=org.rep, opportunity=deal, stage="needs_analysis", reason="客户预算重新评估"
    )
    assert back.stage.code == "needs_analysis"
    change = StageChange.objects.filter(opportunity=deal).latest("id")
    assert (change.stage.code, change.reason) == ("needs_analysis", "客户预算重新评估")
    latest = back.history.latest()
    assert "客户预算重新评估" in latest.history_change_reason
    assert back.furthest_stage_order == 30  # the funnel still counts where it got to


def test_forward_moves_need_no_reason_but_keep_one_given(org: Organisation) -> None:
    deal = prepare(make_opportunity(org.rep), "needs_analysis", org.rep)
    moved = services.opportunity_move_stage(
        actor=org.rep, opportunity=deal, stage="needs_analysis", reason="需求已明确"
    )
    assert StageChange.objects.filter(opportunity=moved).latest("id").reason == "需求已明确"


# --- the API and the pages ---------------------------------------------------------------------


def test_api_answers_a_skip_422_per_stage_and_takes_the_reason(org: Organisation) -> None:
    client = api_client(org.rep)
    deal = make_opportunity(org.rep)
    response = post(client, f"{BASE}/{deal.pk}/stage", {"stage": "negotiation"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "stage_requirements"
    assert [step["stage"] for step in body["missing"]] == [
        "needs_analysis",
        "proposal",
        "negotiation",
    ]
    assert set(body["errors"]) == {"needs", "amount", "proposal"}
    deal = advance(deal, "proposal", org.rep)
    refused = post(client, f"{BASE}/{deal.pk}/stage", {"stage": "initial_contact"})
    assert refused.status_code == 422
    assert refused.json()["code"] == "reason_required"
    moved = post(
        client, f"{BASE}/{deal.pk}/stage", {"stage": "initial_contact", "reason": "客户换了负责人"}
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["stage"] == "initial_contact"
    stages = client.get(f"{BASE}/stages").json()
    assert {stage["code"]: stage["is_optional"] for stage in stages}["proposal"] is False


def test_the_deal_page_move_form_shows_the_errors_and_takes_the_reason(org: Organisation) -> None:
    client = signed_in(org.rep)
    deal = make_opportunity(org.rep)
    url = reverse("opportunities:move", args=[deal.pk])
    response = client.post(url, {"stage": "negotiation"}, follow=True)
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(shown) == 1
    assert all(name in shown[0] for name in ("需求分析", "方案提交", "谈判签约"))
    assert 'id="move-reason"' in response.content.decode()
    deal = advance(deal, "proposal", org.rep)
    client.post(url, {"stage": "initial_contact"}, follow=True)
    deal.refresh_from_db()
    assert deal.stage.code == "proposal"
    page = client.post(url, {"stage": "initial_contact", "reason": "需求变更"}, follow=True)
    deal.refresh_from_db()
    assert deal.stage.code == "initial_contact"
    assert "需求变更" in page.content.decode()  # on the stage history


def test_admin_marks_a_stage_optional_on_the_settings_page(org: Organisation) -> None:
    stage = Stage.objects.get(code="proposal")
    client = signed_in(org.admin)
    response = client.post(
        reverse("opportunities:stage_edit", args=[stage.pk]),
        {
            "name_zh": stage.name_zh,
            "name_en": stage.name_en,
            "order": stage.order,
            "kind": stage.kind,
            "forecast_category": stage.forecast_category,
            "default_probability": stage.default_probability,
            "requirements": stage.requirements,
            "is_optional": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content
    stage.refresh_from_db()
    assert stage.is_optional
    listing = client.get(reverse("opportunities:settings")).content.decode()
    assert "可选" in listing or "optional" in listing


# --- floor price and concessions ---------------------------------------------------------------


def shared_deal(org: Organisation) -> Opportunity:
    """The rep's deal with a floor price, its customer shared read-write with a colleague."""
    customer = make_customer(org.rep)
    customer_services.customer_share(
        actor=org.rep, customer=customer, user=org.colleague, can_edit=True
    )
    return make_opportunity(
        org.rep,
        customer,
        amount=Decimal(500000),
        floor_price="420,000",
        concessions="免费培训两天；付款期可延至60天",
    )


def test_floor_price_and_concessions_are_validated(org: Organisation) -> None:
    deal = shared_deal(org)
    assert deal.floor_price == Decimal("420000.00")
    for data, field in (
        ({"floor_price": "-1"}, "floor_price"),
        ({"floor_price": "abc"}, "floor_price"),
        ({"floor_price": "600000"}, "floor_price"),  # above the expected amount
        ({"amount": "400000"}, "floor_price"),  # the amount may not drop below the floor
        ({"concessions": "让" * 2001}, "concessions"),
    ):
        with pytest.raises(InvalidInput) as refused:
            services.opportunity_update(actor=org.rep, opportunity=deal, data=data)
        assert field in refused.value.errors, data
    updated = services.opportunity_update(
        actor=org.rep, opportunity=deal, data={"floor_price": "450000", "concessions": ""}
    )
    assert (updated.floor_price, updated.concessions) == (Decimal("450000.00"), "")


def test_a_role_that_sees_masks_reads_null_and_cannot_write_them(org: Organisation) -> None:
    deal = shared_deal(org)
    colleague = api_client(org.colleague).get(f"{BASE}/{deal.pk}").json()
    assert (colleague["floor_price"], colleague["concessions"], colleague["amount"]) == (
        None,
        None,
        None,
    )
    owner = api_client(org.rep).get(f"{BASE}/{deal.pk}").json()
    assert owner["floor_price"] == 420000.0
    assert owner["concessions"].startswith("免费培训")
    listed = api_client(org.colleague).get(BASE).json()["items"]
    assert [item["floor_price"] for item in listed if item["id"] == deal.pk] == [None]
    with pytest.raises(InvalidInput) as refused:
        services.opportunity_update(
            actor=org.colleague, opportunity=deal, data={"floor_price": "1"}
        )
    assert "floor_price" in refused.value.errors
    patched = api_client(org.colleague).patch(
        f"{BASE}/{deal.pk}",
        json.dumps({"version": deal.version, "concessions": "全部让步"}),
        content_type="application/json",
    )
    assert patched.status_code == 422
    assert "concessions" in patched.json()["errors"]
    # a field they may change still saves
    assert (
        services.opportunity_update(
            actor=org.colleague, opportunity=deal, data={"next_step": "约演示"}
        ).next_step
        == "约演示"
    )


def test_pages_mask_them_and_keep_them_out_of_the_history(org: Organisation) -> None:
    deal = shared_deal(org)
    services.opportunity_update(actor=org.rep, opportunity=deal, data={"floor_price": "430000"})
    url = reverse("opportunities:detail", args=[deal.pk])
    theirs = signed_in(org.colleague).get(url).content.decode()
    assert not re.search(r"4[23]0,?000", theirs)
    assert "免费培训" not in theirs
    assert theirs.count("***") >= 3  # amount, floor price, concessions
    mine = signed_in(org.rep).get(url).content.decode()
    assert "430,000" in mine
    assert "免费培训" in mine
    assert re.search(r"420,?000", mine)  # the history diff shows the old floor price
    form = signed_in(org.colleague).get(reverse("opportunities:edit", args=[deal.pk]))
    assert "floor_price" not in form.context["form"].fields
    assert "免费培训" not in form.content.decode()
    own_form = signed_in(org.rep).get(reverse("opportunities:edit", args=[deal.pk]))
    assert "免费培训" in own_form.content.decode()


def test_the_edit_form_saves_them(org: Organisation) -> None:
    deal = make_opportunity(org.rep, amount=Decimal(300000))
    response = signed_in(org.rep).post(
        reverse("opportunities:edit", args=[deal.pk]),
        {
            "name": deal.name,
            "owner": org.rep.pk,
            "currency": "CNY",
            "amount": "300000",
            "expected_close": deal.expected_close.isoformat() if deal.expected_close else "",
            "floor_price": "250000",
            "concessions": "赠送一年维保",
            "version": deal.version,
        },
    )
    assert response.status_code == 302, response.content
    deal.refresh_from_db()
    assert (deal.floor_price, deal.concessions) == (Decimal("250000.00"), "赠送一年维保")


def test_the_export_masks_them_for_a_colleague(org: Organisation) -> None:
    deal = shared_deal(org)
    config.put("transfer.export_roles", ["admin", "manager", "sales"])

    def rows_of(user: Any) -> list[list[str]]:
        response = api_client(user).get("/api/v1/exports/opportunities?format=csv")
        assert response.status_code == 200, response.content
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text)))

    mine = rows_of(org.rep)
    theirs = rows_of(org.colleague)
    floor = mine[0].index("底线价格")
    concessions = mine[0].index("可让步条件")
    row = next(r for r in mine[1:] if r[0] == str(deal.pk))
    assert float(row[floor]) == 420000
    assert row[concessions].startswith("免费培训")
    other = next(r for r in theirs[1:] if r[0] == str(deal.pk))
    assert "420000" not in other[floor]
    assert "免费培训" not in other[concessions]
