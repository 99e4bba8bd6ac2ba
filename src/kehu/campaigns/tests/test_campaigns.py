"""Campaigns core: the plan and its validation, goals, costs (never in the future, never
negative), status changes, members from a segment (bulk, skipping those already in), responses
and their touches, web forms whose leads carry the campaign, lead conversion, the customer
timeline and the member list's masking and query count."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.campaigns.models import (
    CampaignMember,
    Response,
    Touch,
    TouchKind,
)
from kehu.campaigns.services import campaigns as services
from kehu.campaigns.services import members, touches
from kehu.campaigns.tests.support import (
    MOBILE,
    make_campaign,
    make_customer,
    static_segment,
    team_campaign,
)
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.timeline import items_for
from kehu.leads import services as lead_services
from kehu.leads.models import Source, WebForm

pytestmark = pytest.mark.django_db(transaction=False)


def _json(client: Client, method: str, url: str, body: Any = None) -> Any:
    call = getattr(client, method)
    if body is None:
        return call(url)
    return call(url, data=json.dumps(body), content_type="application/json")


# --- plan -------------------------------------------------------------------------------------


def test_create_defaults_owner_and_department(org: Organisation) -> None:
    campaign = make_campaign(org.east_manager)
    assert campaign.owner == org.east_manager
    assert campaign.department == org.east
    assert campaign.status == "planned"


def test_create_refuses_bad_plan_naming_fields(org: Organisation) -> None:
    today = timezone.localdate()
    with pytest.raises(InvalidInput) as caught:
        services.campaign_create(
            actor=org.marketing,
            data={
                "name": "展会",
                "kind": "party",
                "starts_on": today,
                "ends_on": today - timedelta(days=1),
                "budget": "-5",
            },
        )
    assert set(caught.value.errors) == {"kind", "ends_on", "budget"}


def test_rep_may_not_plan(org: Organisation) -> None:
    with pytest.raises(Forbidden):
        make_campaign(org.rep)


def test_update_checks_version_and_scope(org: Organisation) -> None:
    campaign = make_campaign(org.east_manager)
    updated = services.campaign_update(
        actor=org.marketing, campaign=campaign, data={"review": "到访量超出预期"}, version=1
    )
    assert updated.version == 2
    assert updated.review == "到访量超出预期"
    with pytest.raises(StaleVersion):
        services.campaign_update(
            actor=org.marketing, campaign=campaign, data={"name": "改"}, version=1
        )
    with pytest.raises(NotFound):
        services.campaign_update(
            actor=org.south_manager, campaign=campaign, data={"name": "改"}, version=None
        )


def test_status_transitions(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    services.campaign_set_status(actor=org.marketing, campaign=campaign, status="running")
    services.campaign_set_status(actor=org.marketing, campaign=campaign, status="finished")
    with pytest.raises(Conflict):
        services.campaign_set_status(actor=org.marketing, campaign=campaign, status="cancelled")
    with pytest.raises(InvalidInput):
        services.campaign_set_status(actor=org.marketing, campaign=campaign, status="won")


# --- goals and costs --------------------------------------------------------------------------


def test_goal_with_industry_and_region(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    goal = services.goal_add(
        actor=org.marketing,
        campaign=campaign,
        data={
            "label": "新增30家制造业中小企业",
            "metric": "customers",
            "target": "30",
            "industry": "C",
        },
    )
    assert goal.industry_id == "C"
    assert goal.target == 30
    with pytest.raises(InvalidInput) as caught:
        services.goal_add(
            actor=org.marketing,
            campaign=campaign,
            data={"label": "x", "metric": "customers", "target": "0", "region": "999999"},
        )
    assert set(caught.value.errors) == {"target", "region"}


def test_costs_api_refuses_future_and_negative(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    client = api_client(org.marketing)
    url = f"/api/v1/campaigns/{campaign.pk}/costs"
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    future = _json(client, "post", url, {"amount": "100", "spent_on": tomorrow})
    assert future.status_code == 422
    assert "spent_on" in json.dumps(future.json())
    negative = _json(client, "post", url, {"amount": "-100"})
    assert negative.status_code == 422
    assert "amount" in json.dumps(negative.json())
    zero = _json(client, "post", url, {"amount": "0"})
    assert zero.status_code == 422
    assert campaign.costs.count() == 0
    ok = _json(client, "post", url, {"amount": "1200.50", "category": "venue", "note": "展位"})
    assert ok.status_code == 201, ok.content
    assert ok.json()["cost_total"] == 1200.5
    second = _json(client, "post", url, {"amount": "300", "category": "materials"})
    assert second.json()["cost_total"] == 1500.5
    assert len(second.json()["costs"]) == 2


# --- members ----------------------------------------------------------------------------------


def test_members_from_segment_skip_those_in(org: Organisation) -> None:
    campaign = team_campaign(org)
    customers = [make_customer(org.rep, contacts=2), make_customer(org.colleague)]
    segment = static_segment(org.east_manager, customers)
    first = members.members_add_from_segment(
        actor=org.east_manager, campaign=campaign, segment_id=segment.pk
    )
    assert (first.added, first.already) == (3, 0)
    again = members.members_add_from_segment(
        actor=org.east_manager, campaign=campaign, segment_id=segment.pk
    )
    assert (again.added, again.already) == (0, 3)
    added = Touch.objects.filter(campaign=campaign, kind=TouchKind.ADDED)
    assert added.count() == 3
    assert set(added.values_list("customer_id", flat=True)) == {c.pk for c in customers}
    primary = make_campaign(org.marketing, name="只邀请主联系人")
    only = members.members_add_from_segment(
        actor=org.marketing, campaign=primary, segment_id=segment.pk, primary_only=True
    )
    assert only.added == 2


def test_segment_out_of_scope_is_refused(org: Organisation) -> None:
    campaign = make_campaign(org.south_manager)
    segment = static_segment(org.east_manager, [make_customer(org.rep)])
    with pytest.raises(InvalidInput) as caught:
        members.members_add_from_segment(
            actor=org.south_manager, campaign=campaign, segment_id=segment.pk
        )
    assert "segment_id" in caught.value.errors


def test_responses_forward_moves_are_touches(org: Organisation) -> None:
    campaign = team_campaign(org)
    customer = make_customer(org.rep, contacts=2)
    contacts = list(customer.contacts.order_by("pk"))
    one = members.member_add(actor=org.marketing, campaign=campaign, contact_id=contacts[0].pk)
    two = members.member_add(actor=org.marketing, campaign=campaign, contact_id=contacts[1].pk)
    with pytest.raises(Conflict):
        members.member_add(actor=org.marketing, campaign=campaign, contact_id=contacts[0].pk)
    changed = members.members_set_response(
        actor=org.marketing, campaign=campaign, member_ids=[one.pk, two.pk], response="attended"
    )
    assert changed == 2
    responses = Touch.objects.filter(campaign=campaign, kind=TouchKind.RESPONSE)
    assert responses.count() == 2
    assert set(responses.values_list("customer_id", flat=True)) == {customer.pk}
    # Back to registered: a correction, no touch
    members.member_set_response(
        actor=org.marketing, campaign=campaign, member_id=one.pk, response="registered"
    )
    assert responses.count() == 2
    one.refresh_from_db()
    assert one.response == Response.REGISTERED
    other = make_campaign(org.marketing, name="别的活动")
    with pytest.raises(InvalidInput):
        members.members_set_response(
            actor=org.marketing, campaign=other, member_ids=[one.pk], response="attended"
        )
    with pytest.raises(InvalidInput):
        members.members_set_response(
            actor=org.marketing, campaign=campaign, member_ids=[one.pk], response="bought"
        )


def test_member_of_invisible_customer_is_refused(org: Organisation) -> None:
    campaign = make_campaign(org.south_manager)
    contact = make_customer(org.rep).contacts.get()
    with pytest.raises(InvalidInput) as caught:
        members.member_add(actor=org.south_manager, campaign=campaign, contact_id=contact.pk)
    assert "contact_id" in caught.value.errors


def test_member_list_masks_and_filters(org: Organisation) -> None:
    campaign = team_campaign(org)
    contact = make_customer(org.rep, mobile=MOBILE).contacts.get()
    member = members.member_add(actor=org.marketing, campaign=campaign, contact_id=contact.pk)
    members.member_set_response(
        actor=org.marketing, campaign=campaign, member_id=member.pk, response="interested"
    )
    url = f"/api/v1/campaigns/{campaign.pk}/members"
    shown = api_client(org.marketing).get(url).json()["items"][0]
    assert shown["masked"] is True
    assert shown["mobile"] == "138****5678"
    assert MOBILE not in json.dumps(shown)
    full = api_client(org.rep).get(url).json()["items"][0]
    assert full["mobile"] == "+86" + MOBILE
    assert full["name"] == contact.name
    client = api_client(org.marketing)
    assert client.get(url + "?response=invited").json()["count"] == 0
    assert client.get(url + "?response=interested").json()["count"] == 1
    assert client.get(url + "?response=maybe").status_code == 422


def test_member_list_queries_do_not_grow(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    campaign = team_campaign(org)
    customers = [make_customer(org.rep, contacts=3) for _ in range(4)]
    segment = static_segment(org.east_manager, customers)
    members.members_add_from_segment(actor=org.marketing, campaign=campaign, segment_id=segment.pk)
    lead = lead_services.lead_capture(
        actor=org.marketing,
        data={"contact_name": "赵女士", "mobile": "13900001111", "source": "website"},
    )
    members.member_add(actor=org.marketing, campaign=campaign, lead_id=lead.pk)
    client = api_client(org.marketing)
    url = f"/api/v1/campaigns/{campaign.pk}/members?limit=5"
    client.get(url)  # warm the token and settings caches
    with django_assert_max_num_queries(8):
        small = client.get(url)
    with django_assert_max_num_queries(8):
        big = client.get(url.replace("limit=5", "limit=50"))
    assert len(small.json()["items"]) == 5
    assert len(big.json()["items"]) == 13
    assert {item["kind"] for item in big.json()["items"]} == {"contact", "lead"}


# --- web forms and leads ----------------------------------------------------------------------


def test_lead_from_attached_form_carries_campaign_and_converts(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(org.marketing)
    form = WebForm.objects.create(name="研讨会报名表", source=Source.WEBSITE)
    services.form_attach(actor=org.marketing, campaign=campaign, web_form_id=form.pk)
    other = make_campaign(org.marketing, name="另一个活动")
    with pytest.raises(Conflict):
        services.form_attach(actor=org.marketing, campaign=other, web_form_id=form.pk)
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_services.web_form_submit(
            form_key=form.key,
            secret=form.secret,
            data={"contact_name": "钱先生", "mobile": "13900002222", "company_name": "合肥智造"},
            ip="203.0.113.9",
        )
    assert lead is not None
    member = CampaignMember.objects.get(campaign=campaign, lead=lead)
    assert member.response == Response.REGISTERED
    touch = Touch.objects.get(campaign=campaign, kind=TouchKind.LEAD, lead=lead)
    assert touch.customer_id is None
    # Converting the lead gives its touches and membership the customer
    lead = lead_services.lead_assign(actor=org.admin, lead=lead, assignee=org.rep)
    lead = lead_services.lead_confirm(actor=org.rep, lead=lead)
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_services.lead_convert(actor=org.rep, lead=lead, force=True)
    touch.refresh_from_db()
    member.refresh_from_db()
    assert touch.customer_id == lead.customer_id is not None
    assert member.customer_id == lead.customer_id
    # After detaching, new leads carry nothing
    services.form_detach(actor=org.marketing, campaign=campaign, web_form_id=form.pk)
    with django_capture_on_commit_callbacks(execute=True):
        later = lead_services.web_form_submit(
            form_key=form.key,
            secret=form.secret,
            data={"contact_name": "孙女士", "mobile": "13900003333"},
            ip="203.0.113.10",
        )
    assert later is not None
    assert not Touch.objects.filter(lead=later).exists()


def test_rolled_back_capture_records_nothing(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    form = WebForm.objects.create(name="报名表", source=Source.WEBSITE)
    services.form_attach(actor=org.marketing, campaign=campaign, web_form_id=form.pk)
    before = Touch.objects.count()

    def capture_then_fail() -> None:
        with transaction.atomic():
            lead_services.lead_capture(
                actor=None, data={"contact_name": "周先生", "mobile": "13900004444"}, form=form
            )
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        capture_then_fail()
    assert Touch.objects.count() == before


# --- touches and the timeline -----------------------------------------------------------------


def test_record_many_fills_customers(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    customer = make_customer(org.rep)
    contact = customer.contacts.get()
    rows = touches.record_many(
        [Touch(campaign=campaign, kind=TouchKind.MESSAGE, contact=contact, detail="x" * 400)]
    )
    assert rows[0].customer_id == customer.pk
    assert len(rows[0].detail) == 300
    one = touches.record(campaign, TouchKind.RESPONSE, contact=contact)
    assert one.customer_id == customer.pk
    with pytest.raises(ValueError, match="unknown touch kind"):
        touches.record(campaign, "bought", contact=contact)


def test_timeline_shows_touches_to_who_sees_the_customer(org: Organisation) -> None:
    campaign = make_campaign(org.marketing, name="年终客户关怀邮件")
    customer = make_customer(org.rep)
    members.member_add(
        actor=org.marketing, campaign=campaign, contact_id=customer.contacts.get().pk
    )
    rep_items = [item for item in items_for(customer, org.rep) if item.kind == "campaign"]
    assert len(rep_items) == 1
    assert "年终客户关怀邮件" in rep_items[0].title
    assert rep_items[0].url == ""  # the rep does not see the marketing campaign itself
    marketing_items = [i for i in items_for(customer, org.marketing) if i.kind == "campaign"]
    assert marketing_items[0].url == reverse("campaigns:detail", args=[campaign.pk])
    page = Client()
    page.force_login(org.rep)
    timeline = page.get(reverse("customers:tab", args=[customer.pk, "timeline"]))
    assert timeline.status_code == 200
    assert "年终客户关怀邮件" in timeline.content.decode()
    other = Client()
    other.force_login(org.south_rep)
    assert other.get(reverse("customers:tab", args=[customer.pk, "timeline"])).status_code == 404


# --- list and pages ---------------------------------------------------------------------------


def test_list_scope_and_filters(org: Organisation) -> None:
    east = make_campaign(org.east_manager, name="华东展会")
    make_campaign(org.south_manager, name="华南发布会", kind="event")
    names = lambda user, query="": {  # noqa: E731
        item["name"] for item in api_client(user).get("/api/v1/campaigns" + query).json()["items"]
    }
    assert names(org.marketing) == {"华东展会", "华南发布会"}
    assert names(org.east_manager) == {"华东展会"}
    assert names(org.rep) == set()
    assert names(org.marketing, "?kind=event") == {"华南发布会"}
    assert names(org.marketing, f"?department_id={org.east.pk}") == {"华东展会"}
    assert api_client(org.marketing).get("/api/v1/campaigns?status=lost").status_code == 422
    client = Client()
    client.force_login(org.marketing)
    listing = client.get(reverse("campaigns:list") + "?q=华东")
    assert listing.status_code == 200
    assert "华东展会" in listing.content.decode()
    assert "华南发布会" not in listing.content.decode()
    detail = client.get(reverse("campaigns:detail", args=[east.pk]))
    assert detail.status_code == 200
    assert "华东展会" in detail.content.decode()


def test_create_page_and_api(org: Organisation) -> None:
    client = Client()
    client.force_login(org.marketing)
    today = timezone.localdate()
    response = client.post(
        reverse("campaigns:new"),
        {
            "name": "数字化转型线上研讨会",
            "kind": "webinar",
            "starts_on": today.isoformat(),
            "ends_on": today.isoformat(),
            "owner": org.marketing.pk,
            "budget": "30000",
        },
    )
    assert response.status_code == 302
    api = _json(
        api_client(org.marketing),
        "post",
        "/api/v1/campaigns",
        {"name": "邮件营销", "kind": "email", "starts_on": str(today), "ends_on": str(today)},
    )
    assert api.status_code == 201
    assert api.json()["owner_id"] == org.marketing.pk
    bad = _json(
        api_client(org.marketing),
        "post",
        "/api/v1/campaigns",
        {"name": "x", "kind": "email", "starts_on": str(today), "ends_on": "2000-01-01"},
    )
    assert bad.status_code == 422
    assert "ends_on" in json.dumps(bad.json())
    rep = Client()
    rep.force_login(org.rep)
    assert rep.get(reverse("campaigns:new")).status_code == 403
