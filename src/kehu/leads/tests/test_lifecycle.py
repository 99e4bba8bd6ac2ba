"""Confirmation SLA, first-contact deadlines, invalidation and review, conversion."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.core.errors import Conflict, Forbidden
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Contact, Customer
from kehu.leads import services, tasks
from kehu.leads.models import EventKind, Lead, LeadStatus
from kehu.leads.tests.conftest import PUDONG, LeadFactory
from kehu.notifications.models import Notification

pytestmark = pytest.mark.django_db


def _json(client: Client, url: str, data: dict[str, object] | None = None) -> object:
    return client.post(url, data=data or {}, content_type="application/json")


# --- SLA ---------------------------------------------------------------------------------------
def test_unconfirmed_past_sla_is_flagged_once_and_manager_told(
    org: Organisation, make_lead: LeadFactory
) -> None:
    with time_machine.travel("2026-03-03 09:00 +08:00", tick=False):
        lead = services.lead_assign(actor=org.admin, lead=make_lead(), assignee=org.rep)
    with time_machine.travel("2026-03-03 09:59 +08:00", tick=False):
        assert tasks.check_confirmation_sla.call_local() == 0
    with time_machine.travel("2026-03-03 10:01 +08:00", tick=False):
        assert tasks.check_confirmation_sla.call_local() == 1
        assert tasks.check_confirmation_sla.call_local() == 0  # idempotent
    lead.refresh_from_db()
    assert lead.sla_breached_at is not None
    assert lead.events.filter(kind=EventKind.SLA_BREACHED).count() == 1
    told = Notification.objects.filter(kind="lead_sla_breached")
    assert list(told.values_list("recipient", flat=True)) == [org.east_manager.pk]
    with time_machine.travel("2026-03-03 10:05 +08:00", tick=False):
        services.lead_confirm(actor=org.rep, lead=lead)
    assert lead.events.get(kind=EventKind.CONFIRMED).data == {"late": True}


def test_department_head_is_the_manager(org: Organisation, make_lead: LeadFactory) -> None:
    org.shanghai.head = org.colleague
    org.shanghai.save()
    assert services.managers_of(org.shanghai.pk) == [org.colleague]
    assert services.managers_of(org.hangzhou.pk) == [org.east_manager]
    assert services.managers_of(None) == [org.admin]


def test_confirm_in_time(org: Organisation, assigned_lead: Lead) -> None:
    response = _json(api_client(org.rep), f"/api/v1/leads/{assigned_lead.pk}/confirm")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assigned_lead.refresh_from_db()
    assert assigned_lead.status == LeadStatus.CONFIRMED
    assert assigned_lead.first_contact_at == assigned_lead.confirmed_at
    assert services.sla_check(now=timezone.now() + timedelta(hours=3)) == 0


def test_overdue_first_contact_warns_and_shows_on_dashboard(
    org: Organisation, make_lead: LeadFactory
) -> None:
    with time_machine.travel("2026-03-02 10:00 +08:00", tick=False):
        urgent = make_lead(urgency="high")  # S: 24 h
        services.lead_assign(actor=org.admin, lead=urgent, assignee=org.rep)
        later = make_lead(source="cold_visit", urgency="low")  # B: 7 days
    with time_machine.travel("2026-03-03 10:30 +08:00", tick=False):
        assert tasks.check_first_contact_deadlines.call_local() == 1
        assert tasks.check_first_contact_deadlines.call_local() == 0
        client = Client()
        client.force_login(org.rep)
        page = client.get(reverse("core:dashboard"))
        assert page.status_code == 200
        assert "leads-panel" in page.content.decode()
        assert str(urgent) in page.content.decode()
        overdue = client.get(reverse("leads:overdue"))
        assert [lead.pk for lead in overdue.context["page"]] == [urgent.pk]
    urgent.refresh_from_db()
    later.refresh_from_db()
    assert urgent.overdue_at is not None
    assert later.overdue_at is None
    recipients = set(
        Notification.objects.filter(kind="lead_overdue").values_list("recipient", flat=True)
    )
    assert recipients == {org.rep.pk, org.east_manager.pk}


# --- Invalidation and review --------------------------------------------------------------------
def test_invalidate_then_admin_closes(org: Organisation, assigned_lead: Lead) -> None:
    rep = api_client(org.rep)
    missing = _json(rep, f"/api/v1/leads/{assigned_lead.pk}/invalidate", {"reason": "other"})
    assert missing.status_code == 422  # type: ignore[attr-defined]
    ok = _json(rep, f"/api/v1/leads/{assigned_lead.pk}/invalidate", {"reason": "empty_number"})
    assert ok.status_code == 200  # type: ignore[attr-defined]
    assert ok.json()["status"] == "pending_review"  # type: ignore[attr-defined]
    assert Notification.objects.filter(recipient=org.admin, kind="lead_review").exists()
    refused = _json(rep, f"/api/v1/leads/{assigned_lead.pk}/review", {"decision": "close"})
    assert refused.status_code == 403  # type: ignore[attr-defined]
    admin = Client()
    admin.force_login(org.admin)
    queue = admin.get(reverse("leads:review"))
    assert [lead.pk for lead in queue.context["page"]] == [assigned_lead.pk]
    closed = _json(
        api_client(org.admin), f"/api/v1/leads/{assigned_lead.pk}/review", {"decision": "close"}
    )
    assert closed.json()["status"] == "closed"  # type: ignore[attr-defined]
    kinds = list(assigned_lead.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["captured", "assigned", "invalidated", "review_closed"]
    reasons = list(assigned_lead.history.order_by("history_id").values_list("status", flat=True))
    assert reasons == ["pool", "assigned", "pending_review", "closed"]


def test_review_reassign_goes_to_another_rep(org: Organisation, make_lead: LeadFactory) -> None:
    services.rule_create(
        actor=org.admin,
        data={"name": "上海", "region_codes": ["310000"], "reps": [org.rep, org.colleague]},
    )
    lead = make_lead(region=PUDONG)
    assert lead.assignee == org.rep
    services.lead_invalidate(actor=org.rep, lead=lead, reason="wrong_industry")
    lead = services.lead_review(actor=org.admin, lead=lead, decision="reassign", note="再试")
    assert lead.assignee == org.colleague
    assert lead.status == LeadStatus.ASSIGNED
    assert lead.invalid_reason == ""
    assert lead.events.filter(kind=EventKind.REVIEW_REASSIGNED).exists()


def test_review_reassign_to_a_chosen_rep_in_the_ui(org: Organisation, assigned_lead: Lead) -> None:
    services.lead_invalidate(actor=org.rep, lead=assigned_lead, reason="other", note="打不通")
    admin = Client()
    admin.force_login(org.admin)
    response = admin.post(
        reverse("leads:review_lead", args=[assigned_lead.pk]), {"decision": "reassign"}
    )
    assert response.status_code == 302
    assigned_lead.refresh_from_db()
    assert assigned_lead.status == LeadStatus.POOL  # no rules: back into the pool


def test_rep_acting_on_someone_elses_lead_gets_404(org: Organisation, assigned_lead: Lead) -> None:
    colleague = api_client(org.colleague)
    for action, body in [
        ("confirm", {}),
        ("invalidate", {"reason": "no_need"}),
        ("convert", {}),
        ("assign", {"assignee_id": org.colleague.pk}),
    ]:
        response = _json(colleague, f"/api/v1/leads/{assigned_lead.pk}/{action}", body)
        assert response.status_code == 404, action  # type: ignore[attr-defined]
    patch = colleague.patch(
        f"/api/v1/leads/{assigned_lead.pk}",
        data={"version": 1, "need": "x"},
        content_type="application/json",
    )
    assert patch.status_code == 404
    ui = Client()
    ui.force_login(org.colleague)
    assert ui.post(reverse("leads:confirm", args=[assigned_lead.pk])).status_code == 404
    fresh = Lead.objects.get(pk=assigned_lead.pk)
    assert fresh.status == LeadStatus.ASSIGNED
    assert fresh.version == assigned_lead.version


def test_manager_sees_but_cannot_confirm_for_the_rep(
    org: Organisation, assigned_lead: Lead
) -> None:
    with pytest.raises(Forbidden):
        services.lead_confirm(actor=org.east_manager, lead=assigned_lead)
    response = _json(api_client(org.east_manager), f"/api/v1/leads/{assigned_lead.pk}/confirm")
    assert response.status_code == 403  # type: ignore[attr-defined]


# --- Conversion ---------------------------------------------------------------------------------
def test_convert_creates_customer_contact_and_opportunity(
    org: Organisation, make_lead: LeadFactory
) -> None:
    lead = make_lead(
        company_name="上海精工机械有限公司",
        contact_name="王经理",
        mobile="13800138001",
        email="wang@jinggong.example",
        region=PUDONG,
        industry="34",
        need="采购数控机床",
        urgency="high",
        estimated_value="250000",
        source_detail="展会-上海工博会",
    )
    lead.extra = {"职位": "采购经理"}
    lead.save()
    services.lead_assign(actor=org.admin, lead=lead, assignee=org.rep)
    services.lead_confirm(actor=org.rep, lead=lead)
    response = _json(
        api_client(org.rep),
        f"/api/v1/leads/{lead.pk}/convert",
        {"create_opportunity": True, "opportunity_name": "数控机床采购"},
    )
    assert response.status_code == 200, response.content  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == "converted"
    customer = Customer.objects.get(pk=body["customer_id"])
    assert customer.name == "上海精工机械有限公司"
    assert customer.owner == org.rep
    assert customer.region_id == PUDONG
    assert customer.industry_id == "34"
    assert customer.source == "trade_show"
    assert customer.source_detail == "展会-上海工博会"
    assert customer.initial_need == "采购数控机床"
    assert customer.priority == "S"
    assert "¥250,000" in customer.notes
    assert "职位: 采购经理" in customer.notes
    contact = customer.contacts.get()
    assert (contact.name, contact.mobile, contact.email) == (
        "王经理",
        "+8613800138001",
        "wang@jinggong.example",
    )
    from kehu.opportunities.models import Opportunity

    opportunity = Opportunity.objects.get(pk=body["opportunity_id"])
    assert opportunity.stage.code == "initial_contact"
    assert opportunity.customer == customer
    assert opportunity.name == "数控机床采购"
    again = _json(api_client(org.rep), f"/api/v1/leads/{lead.pk}/convert", {})
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert again.json()["code"] == "already_converted"  # type: ignore[attr-defined]
    assert Customer.objects.count() == 1


def test_duplicate_customer_offers_linking(org: Organisation, confirmed_lead: Lead) -> None:
    from kehu.customers.services import customer_create

    existing = customer_create(
        actor=org.rep,
        data={"name": confirmed_lead.company_name},
        contacts=[{"name": "老联系人", "mobile": "13911112222"}],
    )
    client = api_client(org.rep)
    url = f"/api/v1/leads/{confirmed_lead.pk}/convert"
    conflict = _json(client, url, {})
    assert conflict.status_code == 409  # type: ignore[attr-defined]
    matches = conflict.json()["matches"]  # type: ignore[attr-defined]
    assert matches[0]["id"] == existing.pk
    assert Customer.objects.count() == 1
    assert Lead.objects.get(pk=confirmed_lead.pk).status == LeadStatus.CONFIRMED
    linked = _json(client, url, {"customer_id": existing.pk})
    assert linked.status_code == 200  # type: ignore[attr-defined]
    assert linked.json()["customer_id"] == existing.pk  # type: ignore[attr-defined]
    assert Customer.objects.count() == 1
    assert Contact.objects.filter(customer=existing, mobile=confirmed_lead.mobile).exists()


def test_duplicate_can_be_forced(org: Organisation, confirmed_lead: Lead) -> None:
    from kehu.customers.services import customer_create

    customer_create(actor=org.rep, data={"name": confirmed_lead.company_name})
    with pytest.raises(Conflict):
        services.lead_convert(actor=org.rep, lead=confirmed_lead)
    lead = services.lead_convert(actor=org.rep, lead=confirmed_lead, force=True)
    assert lead.customer is not None
    assert Customer.objects.count() == 2


def test_only_confirmed_leads_convert(org: Organisation, assigned_lead: Lead) -> None:
    with pytest.raises(Conflict):
        services.lead_convert(actor=org.rep, lead=assigned_lead)
    assert not Customer.objects.exists()


def test_conversion_dialog(org: Organisation, confirmed_lead: Lead) -> None:
    client = Client()
    client.force_login(org.rep)
    url = reverse("leads:convert", args=[confirmed_lead.pk])
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200
    response = client.post(url, {"opportunity_name": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("leads:detail", args=[confirmed_lead.pk])
    confirmed_lead.refresh_from_db()
    assert confirmed_lead.status == LeadStatus.CONVERTED
    assert confirmed_lead.opportunity_id is None
    detail = client.get(reverse("leads:detail", args=[confirmed_lead.pk]))
    assert "lead-customer" in detail.content.decode()


def test_detail_permissions_come_from_the_service(org: Organisation, confirmed_lead: Lead) -> None:
    """What the detail page offers is what the services allow, per role."""
    rep, manager, other = org.rep, org.east_manager, org.colleague
    assert services.lead_may_act(rep, confirmed_lead)
    assert not services.lead_may_act(other, confirmed_lead)
    assert services.lead_may_convert(rep, confirmed_lead)
    assert services.lead_may_convert(manager, confirmed_lead)
    assert not services.lead_may_convert(other, confirmed_lead)
    assert not services.lead_may_convert(org.south_manager, confirmed_lead)
    assert services.lead_may_review(org.admin)
    assert not services.lead_may_review(manager)
    client = Client()
    client.force_login(rep)
    context = client.get(reverse("leads:detail", args=[confirmed_lead.pk])).context
    assert (context["may_act"], context["may_convert"], context["may_edit"]) == (True, True, True)
    assert (context["may_manage"], context["may_review"]) == (False, False)
