"""Handovers (服务交接单): drafted on the win, completed, appointed, confirmed, escalated."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.accounts import services as accounts
from kehu.accounts.models import Role, User
from kehu.core import config
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.testing.deals import prepare, win
from kehu.core.testing.factories import Organisation, api_client, make_user
from kehu.customers.models import Customer, Region
from kehu.notifications.models import Notification
from kehu.opportunities import services as deals
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import make_customer, make_opportunity
from kehu.service.models import Handover, HandoverStatus, RoutingRule, RoutingTarget
from kehu.service.services import handovers as services

COMPLETE = {
    "needs": "产线数据采集",
    "service_content": "7×24 电话支持，季度巡检",
    "response_hours": 2,
    "resolution_hours": 24,
    "contract_terms": "违约金 5%",
    "special_notes": "偏好邮件沟通",
}


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def won_deal(owner: User, customer: Customer | None = None, **data: Any) -> Opportunity:
    deal = make_opportunity(owner, customer, amount=Decimal("500000"), needs="CRM 系统", **data)
    return win(deal, owner)


def draft_of(owner: User, customer: Customer | None = None) -> Handover:
    deal = won_deal(owner, customer)
    return Handover.objects.get(opportunity=deal)


def completed_draft(owner: User, customer: Customer | None = None) -> Handover:
    handover = draft_of(owner, customer)
    return services.handover_update(actor=owner, handover=handover, data=COMPLETE)


def pending(org: Organisation, customer: Customer | None = None) -> Handover:
    handover = completed_draft(org.rep, customer)
    return services.handover_submit(actor=org.rep, handover=handover, specialist=org.service)


# --- the win drafts one ---------------------------------------------------------------------


def test_winning_a_deal_drafts_one_handover_for_its_owner(org: Organisation) -> None:
    deal = won_deal(org.rep)
    handover = Handover.objects.get(opportunity=deal)
    assert handover.status == HandoverStatus.DRAFT
    assert handover.owner == org.rep
    assert handover.customer_id == deal.customer_id
    assert handover.department == org.shanghai
    assert handover.needs == "CRM 系统"
    note = Notification.objects.get(recipient=org.rep, kind="handover_draft")
    assert note.url == reverse("service:handover_detail", args=[handover.pk])
    # the hook again (a retry): still one
    services.draft_for_won_deal(deal, org.rep)
    assert Handover.objects.filter(opportunity=deal).count() == 1
    assert Notification.objects.filter(recipient=org.rep, kind="handover_draft").count() == 1


def test_a_rolled_back_win_drafts_nothing(org: Organisation) -> None:
    deal = make_opportunity(org.rep)  # no amount: the won stage refuses it
    with pytest.raises(InvalidInput):
        deals.opportunity_win(actor=org.rep, opportunity=deal)
    assert not Handover.objects.exists()


@pytest.mark.parametrize("action", ["stage", "win"])
def test_winning_through_the_api_drafts_one(org: Organisation, action: str) -> None:
    deal = prepare(make_opportunity(org.rep, amount=Decimal("100000")), "won", org.rep)
    client = api_client(org.rep)
    body = {"stage": "won"} if action == "stage" else {}
    response = client.post(
        f"/api/v1/opportunities/{deal.pk}/{action}", body, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    again = client.post(
        f"/api/v1/opportunities/{deal.pk}/stage", {"stage": "paid"}, content_type="application/json"
    )
    assert again.status_code == 200, again.content  # won → won: no second draft
    assert Handover.objects.filter(opportunity=deal).count() == 1
    listed = client.get("/api/v1/handovers?box=drafts").json()
    assert listed["count"] == 1
    assert listed["items"][0]["opportunity_id"] == deal.pk


# --- editing and submitting -----------------------------------------------------------------


def test_submit_refuses_an_incomplete_handover_and_changes_nothing(org: Organisation) -> None:
    handover = draft_of(org.rep)
    client = api_client(org.rep)
    client.patch(
        f"/api/v1/handovers/{handover.pk}",
        {"version": handover.version, "needs": "   "},
        content_type="application/json",
    )
    handover.refresh_from_db()
    response = client.post(
        f"/api/v1/handovers/{handover.pk}/submit",
        {"specialist_id": org.rep.pk, "version": handover.version},
        content_type="application/json",
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "handover_incomplete"
    assert set(body["errors"]) == {
        "needs",
        "service_content",
        "response_hours",
        "resolution_hours",
        "specialist",
    }
    fresh = Handover.objects.get(pk=handover.pk)
    assert (fresh.status, fresh.version, fresh.specialist_id) == (
        HandoverStatus.DRAFT,
        handover.version,
        None,
    )


def test_update_checks_values_and_version(org: Organisation) -> None:
    handover = draft_of(org.rep)
    client = api_client(org.rep)
    url = f"/api/v1/handovers/{handover.pk}"
    bad = client.patch(
        url,
        {"version": handover.version, "response_hours": 0, "needs": "x" * 5001},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "response_hours" in bad.json()["errors"]
    longer = client.patch(
        url,
        {"version": handover.version, "response_hours": 8, "resolution_hours": 4},
        content_type="application/json",
    )
    assert longer.status_code == 200  # saved: the rule is checked on submit
    stale = client.patch(
        url, {"version": handover.version, "needs": "改"}, content_type="application/json"
    )
    assert stale.status_code == 409
    fresh = client.get(url).json()
    with pytest.raises(InvalidInput) as caught:
        services.handover_submit(
            actor=org.rep, handover=handover, specialist=org.service, version=fresh["version"]
        )
    assert "resolution_hours" in (caught.value.errors or {})


def test_the_specialist_may_not_edit_what_sales_promised(org: Organisation) -> None:
    handover = pending(org)
    with pytest.raises(Forbidden):
        services.handover_update(actor=org.service, handover=handover, data={"needs": "改"})
    with pytest.raises(Conflict):
        services.handover_update(actor=org.rep, handover=handover, data={"needs": "改"})


def test_submit_by_hand_needs_an_active_service_user(org: Organisation) -> None:
    handover = completed_draft(org.rep)
    for wrong in (org.colleague, org.east_manager):
        with pytest.raises(InvalidInput) as caught:
            services.handover_submit(actor=org.rep, handover=handover, specialist=wrong)
        assert "specialist" in (caught.value.errors or {})
    gone = make_user(Role.SERVICE)
    User.objects.filter(pk=gone.pk).update(is_active=False)
    with pytest.raises(InvalidInput):
        services.handover_submit(actor=org.rep, handover=handover, specialist=gone.pk)
    done = services.handover_submit(actor=org.rep, handover=handover, specialist=org.service)
    assert done.status == HandoverStatus.PENDING
    assert done.specialist == org.service
    assert done.appointed_by_rule is None
    assert done.submitted_at is not None
    note = Notification.objects.get(recipient=org.service, kind="handover_pending")
    assert note.url == reverse("service:handover_detail", args=[handover.pk])


def test_submit_appoints_by_the_routing_rules(org: Organisation) -> None:
    shanghai = Region.objects.filter(code__startswith="31").order_by("code").first()
    assert shanghai is not None
    east_agent = make_user(Role.SERVICE, username="east_agent")
    other = make_user(Role.SERVICE, username="other_agent")
    everyone = services.routing_rule_create(
        actor=org.admin,
        data={"name": "兜底", "target": "handover", "order": 200, "members": [other.pk]},
    )
    by_region = services.routing_rule_create(
        actor=org.east_manager,
        data={
            "name": "上海客户",
            "target": "handover",
            "order": 10,
            "region": shanghai.pk,
            "members": [east_agent.pk],
        },
    )
    local = make_customer(org.rep, region=shanghai.pk)
    elsewhere = make_customer(org.rep)
    first = services.handover_submit(actor=org.rep, handover=completed_draft(org.rep, local))
    assert (first.specialist, first.appointed_by_rule) == (east_agent, by_region)
    second = services.handover_submit(actor=org.rep, handover=completed_draft(org.rep, elsewhere))
    assert (second.specialist, second.appointed_by_rule) == (other, everyone)


def test_submit_without_rule_or_choice_asks_for_a_specialist(org: Organisation) -> None:
    handover = completed_draft(org.rep)
    response = api_client(org.rep).post(
        f"/api/v1/handovers/{handover.pk}/submit", {}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "no_specialist"
    assert "specialist" in response.json()["errors"]
    assert Handover.objects.get(pk=handover.pk).status == HandoverStatus.DRAFT


# --- confirmation and scope -----------------------------------------------------------------


def test_only_the_appointed_specialist_confirms(org: Organisation) -> None:
    handover = pending(org)
    other = make_user(Role.SERVICE)
    url = f"/api/v1/handovers/{handover.pk}/confirm"
    assert api_client(other).post(url, {}, content_type="application/json").status_code == 404
    owner = api_client(org.rep).post(url, {}, content_type="application/json")
    assert owner.status_code == 403
    assert owner.json()["code"] == "forbidden"
    assert Handover.objects.get(pk=handover.pk).status == HandoverStatus.PENDING
    done = api_client(org.service).post(url, {}, content_type="application/json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == HandoverStatus.COMPLETED
    assert done.json()["confirmed_at"]
    assert Notification.objects.filter(recipient=org.rep, kind="handover_confirmed").count() == 1
    again = api_client(org.service).post(url, {}, content_type="application/json")
    assert again.status_code == 409


def test_the_customer_enters_the_specialists_scope_on_confirmation(org: Organisation) -> None:
    customer = make_customer(org.rep)
    handover = pending(org, customer)
    api = api_client(org.service)
    page = Client()
    page.force_login(org.service)
    detail = reverse("customers:detail", args=[customer.pk])
    assert api.get(f"/api/v1/customers/{customer.pk}").status_code == 404
    assert page.get(detail).status_code == 404
    services.handover_confirm(actor=org.service, handover=handover)
    assert api.get(f"/api/v1/customers/{customer.pk}").status_code == 200
    assert page.get(detail).status_code == 200
    write = api.patch(
        f"/api/v1/customers/{customer.pk}",
        {"version": Customer.objects.get(pk=customer.pk).version, "name": "改名有限公司"},
        content_type="application/json",
    )
    assert write.status_code == 403  # read-only
    # another service user still does not see it
    assert (
        api_client(make_user(Role.SERVICE)).get(f"/api/v1/customers/{customer.pk}").status_code
        == 404
    )


def test_cancel_and_reassign(org: Organisation) -> None:
    handover = pending(org)
    second = make_user(Role.SERVICE)
    with pytest.raises(Forbidden):
        services.handover_reassign_specialist(actor=org.rep, handover=handover, specialist=second)
    moved = services.handover_reassign_specialist(
        actor=org.east_manager, handover=handover, specialist=second, reason="休假"
    )
    assert moved.specialist == second
    assert Notification.objects.filter(recipient=second, kind="handover_pending").count() == 1
    with pytest.raises(NotFound):  # the first specialist no longer sees it
        services.handover_confirm(actor=org.service, handover=handover)
    cancelled = services.handover_cancel(actor=org.rep, handover=handover, reason="客户撤单")
    assert cancelled.status == HandoverStatus.CANCELLED
    with pytest.raises(Conflict):
        services.handover_confirm(actor=second, handover=handover)
    with pytest.raises(Conflict):
        services.handover_cancel(actor=org.rep, handover=handover)


# --- escalation -------------------------------------------------------------------------------


def test_escalation_once_after_the_configured_time(org: Organisation) -> None:
    service_dept = accounts.department_create(name="客服部")
    User.objects.filter(pk=org.service.pk).update(department=service_dept)
    boss = make_user(Role.MANAGER, department=service_dept, username="service_boss")
    org.service.refresh_from_db()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        handover = pending(org)
    assert services.handovers_escalate(now=start + timedelta(hours=23)) == 0
    assert services.handovers_escalate(now=start + timedelta(hours=25)) == 1
    assert services.handovers_escalate(now=start + timedelta(hours=48)) == 0
    notes = Notification.objects.filter(kind="handover_escalated")
    assert [note.recipient for note in notes] == [boss]
    assert Handover.objects.get(pk=handover.pk).escalated_at is not None
    # a shorter setting escalates sooner; admins are the fallback without service managers
    config.put("service.handover_confirm_hours", 2)
    lonely = make_user(Role.SERVICE)
    with time_machine.travel(start, tick=False):
        other = services.handover_submit(
            actor=org.rep, handover=completed_draft(org.rep), specialist=lonely
        )
    assert services.handovers_escalate(now=start + timedelta(hours=1)) == 0
    assert services.handovers_escalate(now=start + timedelta(hours=3)) == 1
    assert [n.recipient for n in notes.filter(url__contains=f"/{other.pk}/")] == [org.admin]


def test_the_periodic_task_escalates(org: Organisation) -> None:
    from kehu.service.tasks import escalate_unconfirmed_handovers

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        pending(org)
    with time_machine.travel(start + timedelta(hours=30), tick=False):
        assert escalate_unconfirmed_handovers.call_local() == 1


# --- masking, lists, attachments --------------------------------------------------------------


def test_contract_terms_are_masked_for_the_specialist(org: Organisation) -> None:
    handover = pending(org)
    url = f"/api/v1/handovers/{handover.pk}"
    assert api_client(org.rep).get(url).json()["contract_terms"] == "违约金 5%"
    assert api_client(org.east_manager).get(url).json()["contract_terms"] == "违约金 5%"
    seen = api_client(org.service).get(url).json()
    assert seen["contract_terms"] is None
    assert seen["needs"] == COMPLETE["needs"]
    listed = api_client(org.service).get("/api/v1/handovers?box=to_confirm").json()
    assert listed["items"][0]["contract_terms"] is None
    page = Client()
    page.force_login(org.service)
    text = page.get(reverse("service:handover_detail", args=[handover.pk])).content.decode()
    assert "违约金" not in text
    assert "confirm-handover" in text


def test_the_list_reads_a_constant_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = api_client(org.east_manager)
    pending(org)
    client.get("/api/v1/handovers")  # warm the token and the caches
    with django_assert_max_num_queries(12) as few:
        assert client.get("/api/v1/handovers").json()["count"] == 1
    for _ in range(6):
        pending(org)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/v1/handovers").json()["count"] == 7


def test_attachments_go_through_the_scope(org: Organisation) -> None:
    handover = pending(org)
    client = api_client(org.rep)
    pdf = SimpleUploadedFile("合同.pdf", b"%PDF-1.4 contract", content_type="application/pdf")
    response = client.post(f"/api/v1/handovers/{handover.pk}/attachments", {"file": pdf})
    assert response.status_code == 201, response.content
    attachment_id = response.json()["id"]
    fake = SimpleUploadedFile("x.pdf", b"<html><script>", content_type="application/pdf")
    assert (
        client.post(f"/api/v1/handovers/{handover.pk}/attachments", {"file": fake}).status_code
        == 422
    )
    listed = api_client(org.service).get(f"/api/v1/handovers/{handover.pk}/attachments").json()
    assert [row["name"] for row in listed] == ["合同.pdf"]
    url = reverse("service:handover_attachment", args=[attachment_id])
    for user, status in ((org.service, 200), (org.rep, 200), (org.south_rep, 404)):
        page = Client()
        page.force_login(user)
        assert page.get(url).status_code == status


# --- routing rules ----------------------------------------------------------------------------


def test_routing_rules_api_validates_members(org: Organisation) -> None:
    client = api_client(org.admin)
    bad = client.post(
        "/api/v1/routing-rules",
        {"name": "华东", "target": "handover", "member_ids": [org.rep.pk, org.service.pk]},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert str(org.rep.pk) in bad.json()["errors"]["members"][0]
    assert not RoutingRule.objects.exists()
    wrong_type = client.post(
        "/api/v1/routing-rules",
        {"name": "投诉", "target": "handover", "ticket_type": "complaint"},
        content_type="application/json",
    )
    assert wrong_type.status_code == 422
    assert "ticket_type" in wrong_type.json()["errors"]
    made = client.post(
        "/api/v1/routing-rules",
        {
            "name": "投诉",
            "target": "ticket",
            "ticket_type": "complaint",
            "strategy": "round_robin",
            "member_ids": [org.service.pk, org.east_manager.pk],
        },
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    rule = made.json()
    assert rule["member_ids"] == sorted([org.service.pk, org.east_manager.pk])
    patched = api_client(org.east_manager).patch(
        f"/api/v1/routing-rules/{rule['id']}",
        {"version": rule["version"], "is_active": False, "member_ids": [org.service.pk]},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["member_ids"] == [org.service.pk]
    assert api_client(org.rep).get("/api/v1/routing-rules").status_code == 403
    assert client.get("/api/v1/routing-rules").json()["count"] == 1
    assert client.delete(f"/api/v1/routing-rules/{rule['id']}").status_code == 204
    assert RoutingRule.objects.filter(target=RoutingTarget.TICKET).count() == 0


def test_routing_rule_page_saves_and_shows_errors(org: Organisation) -> None:
    page = Client()
    page.force_login(org.admin)
    url = reverse("service:routing_rule_new")
    assert page.get(url).status_code == 200
    refused = page.post(
        url,
        {
            "name": "x",
            "target": "handover",
            "ticket_type": "complaint",
            "order": 1,
            "strategy": "least_loaded",
        },
    )
    assert refused.status_code == 200
    assert "ticket rules only" in refused.content.decode() or "工单" in refused.content.decode()
    saved = page.post(
        url,
        {
            "name": "全部",
            "target": "handover",
            "order": 1,
            "strategy": "least_loaded",
            "is_active": "on",
            "members": [org.service.pk],
        },
    )
    assert saved.status_code == 302
    assert RoutingRule.objects.get().name == "全部"
    assert page.get(reverse("service:routing_rules")).status_code == 200


# --- pages --------------------------------------------------------------------------------------


def test_pages_walk_the_handover(org: Organisation) -> None:
    handover = draft_of(org.rep)
    rep = Client()
    rep.force_login(org.rep)
    detail = reverse("service:handover_detail", args=[handover.pk])
    assert "handover-missing" in rep.get(detail).content.decode()
    dashboard = rep.get(reverse("core:dashboard")).content.decode()
    assert "handover-drafts-panel" in dashboard
    edit = reverse("service:handover_edit", args=[handover.pk])
    assert rep.get(edit).status_code == 200
    saved = rep.post(edit, {**COMPLETE, "version": handover.version})
    assert saved.status_code == 302
    handover.refresh_from_db()
    submitted = rep.post(
        reverse("service:handover_submit", args=[handover.pk]),
        {"specialist": org.service.pk, "version": handover.version},
    )
    assert submitted.status_code == 302
    assert Handover.objects.get(pk=handover.pk).status == HandoverStatus.PENDING
    agent = Client()
    agent.force_login(org.service)
    assert "handover-confirm-panel" in agent.get(reverse("core:dashboard")).content.decode()
    listed = agent.get(reverse("service:handovers")).content.decode()
    assert handover.customer.name in listed
    handover.refresh_from_db()
    agent.post(
        reverse("service:handover_confirm", args=[handover.pk]), {"version": handover.version}
    )
    assert Handover.objects.get(pk=handover.pk).status == HandoverStatus.COMPLETED
    timeline = agent.get(
        reverse("customers:tab", args=[handover.customer_id, "timeline"])
    ).content.decode()
    assert reverse("service:handover_detail", args=[handover.pk]) in timeline


def test_the_menu_has_handovers_for_sales_and_service(org: Organisation) -> None:
    for user, shown in ((org.rep, True), (org.service, True), (org.marketing, False)):
        page = Client()
        page.force_login(user)
        text = page.get(reverse("core:dashboard")).content.decode()
        assert (reverse("service:handovers") in text) is shown


def _json(response: Any) -> Any:
    return json.loads(response.content)


def test_offboarding_moves_open_handovers_with_their_customers(org: Organisation) -> None:
    from kehu.accounts.offboarding import handover_apply, handover_plan

    open_one = draft_of(org.rep)
    done = pending(org)
    services.handover_confirm(actor=org.service, handover=done)
    plan = handover_plan(actor=org.admin, user=org.rep, successors=[org.colleague])
    assert {item.pk for item in plan.items if item.kind == "service_handovers"} == {open_one.pk}
    handover_apply(actor=org.admin, plan=plan, reason="离职")
    assert Handover.objects.get(pk=open_one.pk).owner == org.colleague
    assert Handover.objects.get(pk=done.pk).owner == org.rep  # finished: stays, as history


def test_list_filters_refuse_bad_values(org: Organisation) -> None:
    client = api_client(org.rep)
    for query in ("box=everything", f"customer_id={10**20}", "status=lost"):
        response = client.get(f"/api/v1/handovers?{query}")
        assert response.status_code == 422, query
    page = Client()
    page.force_login(org.rep)
    assert page.get(reverse("service:handovers") + "?box=everything").status_code == 200
