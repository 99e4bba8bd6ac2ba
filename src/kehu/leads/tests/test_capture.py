"""Capture from the service (import engine), the API and the UI form."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.testing.factories import Organisation, api_client
from kehu.leads import services
from kehu.leads.models import EventKind, Lead, LeadStatus
from kehu.leads.tests.conftest import PUDONG, LeadFactory

pytestmark = pytest.mark.django_db


def test_import_capture_normalises_and_prioritises(org: Organisation) -> None:
    with time_machine.travel("2026-03-02 10:00 +08:00", tick=False):
        lead = services.lead_capture(
            actor=None,
            data={
                "company_name": "上海某某机械有限公司",
                "contact_name": "王经理",
                "mobile": "138 0013 8000",
                "email": "Wang@Example.COM",
                "region": PUDONG,
                "industry": "C",
                "need": "采购数控机床",
                "urgency": "high",
                "estimated_value": "300000",
                "source": "trade_show",
                "source_detail": "展会-2024年3月上海行业展-展位A12",
            },
        )
    lead.refresh_from_db()
    assert lead.mobile == "+8613800138000"
    assert lead.email == "wang@example.com"  # lower-cased whole, like customers
    assert lead.region_id == PUDONG
    assert lead.industry_id == "C"
    assert lead.priority == "S"
    assert not lead.priority_manual
    assert lead.first_contact_due_at == lead.created_at + timedelta(hours=24)
    assert lead.status == LeadStatus.POOL
    assert lead.assignee is None
    assert lead.source_detail == "展会-2024年3月上海行业展-展位A12"
    assert lead.events.get().kind == EventKind.CAPTURED
    assert lead.history.count() == 1


def test_priority_rules_by_source_and_value_and_by_hand(make_lead: LeadFactory) -> None:
    assert make_lead(source="referral").priority == "A"
    assert make_lead(estimated_value=Decimal("600000")).priority == "S"
    plain = make_lead(source="cold_visit", urgency="low")
    assert plain.priority == "B"
    assert plain.first_contact_due_at == plain.created_at + timedelta(days=7)
    manual = make_lead(source="cold_visit", urgency="low", priority="S")
    assert manual.priority == "S"
    assert manual.priority_manual


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"mobile": "12345"}, "mobile"),
        ({"mobile": "", "email": ""}, "mobile"),
        ({"email": "not-an-email", "mobile": ""}, "email"),
        ({"contact_name": ""}, "contact_name"),
        ({"region": "999999"}, "region"),
        ({"urgency": "someday"}, "urgency"),
        ({"estimated_value": "-5"}, "estimated_value"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(
    org: Organisation, data: dict[str, str], field: str
) -> None:
    values = {"contact_name": "李四", "mobile": "13800138000", "source": "website", **data}
    with pytest.raises(InvalidInput) as error:
        services.lead_capture(actor=org.marketing, data=values)
    assert field in error.value.errors
    assert not Lead.objects.exists()


def test_sales_rep_capture_is_their_own(org: Organisation, make_lead: LeadFactory) -> None:
    lead = make_lead(actor=org.rep)
    assert lead.assignee == org.rep
    assert lead.status == LeadStatus.ASSIGNED
    assert lead.department == org.shanghai


def test_api_create_and_read(org: Organisation) -> None:
    client = api_client(org.marketing)
    response = client.post(
        "/api/v1/leads",
        data={
            "contact_name": "赵六",
            "company_name": "杭州某某贸易有限公司",
            "mobile": "+86 139 0000 1111",
            "region": "杭州市",
            "source": "social_media",
            "source_detail": "企业抖音",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mobile"] == "139****1111"  # marketing has no full access to a pool lead
    assert body["masked"] is True
    assert body["region"] == "330100"
    assert body["status"] == "pool"
    lead_id = body["id"]
    assert api_client(org.admin).get(f"/api/v1/leads/{lead_id}").json()["mobile"] == (
        "+8613900001111"
    )
    assert client.get(f"/api/v1/leads/{lead_id}").json()["source_detail"] == "企业抖音"


def test_api_bad_phone_answers_422(org: Organisation) -> None:
    response = api_client(org.marketing).post(
        "/api/v1/leads",
        data={"contact_name": "赵六", "mobile": "0000", "source": "website"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "mobile" in response.json()["errors"]
    assert not Lead.objects.exists()


def test_api_patch_with_version(org: Organisation, assigned_lead: Lead) -> None:
    client = api_client(org.rep)
    url = f"/api/v1/leads/{assigned_lead.pk}"
    version = client.get(url).json()["version"]
    response = client.patch(
        url,
        data={"version": version, "need": "需要报价", "urgency": "high"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["priority"] == "S"  # recomputed from the urgency
    stale = client.patch(
        url, data={"version": version, "need": "x"}, content_type="application/json"
    )
    assert stale.status_code == 409
    assert Lead.objects.get(pk=assigned_lead.pk).need == "需要报价"


def test_ui_capture_form(org: Organisation) -> None:
    client = Client()
    client.force_login(org.marketing)
    page = client.get(reverse("leads:create"))
    assert page.status_code == 200
    response = client.post(
        reverse("leads:create"),
        {
            "contact_name": "钱七",
            "mobile": "13700001234",
            "source": "inbound_call",
            "urgency": "medium",
        },
    )
    assert response.status_code == 302
    lead = Lead.objects.get()
    assert lead.created_by == org.marketing
    assert lead.priority == "A"
    bad = client.post(
        reverse("leads:create"),
        {"contact_name": "钱七", "mobile": "1", "source": "inbound_call", "urgency": "medium"},
    )
    assert bad.status_code == 200
    assert "mobile" in bad.context["form"].errors
    assert Lead.objects.count() == 1


def test_service_role_cannot_capture_in_ui(org: Organisation) -> None:
    client = Client()
    client.force_login(org.service)
    assert client.get(reverse("leads:create")).status_code == 403


def test_extra_fields_are_kept(org: Organisation) -> None:
    lead = services.lead_capture(
        actor=None,
        data={"contact_name": "A", "mobile": "13800138000", "source": "market_research"},
        extra={"问卷编号": "Q-17"},
    )
    assert json.loads(json.dumps(lead.extra)) == {"问卷编号": "Q-17"}


def test_api_service_role_cannot_capture(org: Organisation) -> None:
    """The role rule lives in the service: the API refuses like the UI (403, nothing stored)."""
    response = api_client(org.service).post(
        "/api/v1/leads",
        data={"contact_name": "孙八", "mobile": "13700001234", "source": "website"},
        content_type="application/json",
    )
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "forbidden"
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("who", "may"),
    [
        ("admin", True),
        ("east_manager", True),
        ("rep", True),
        ("marketing", True),
        ("service", False),
    ],
)
def test_who_may_capture(org: Organisation, who: str, may: bool) -> None:
    user = getattr(org, who)
    assert services.lead_may_capture(user) is may
    data = {"contact_name": "孙八", "mobile": "13700001234", "source": "website"}
    if may:
        assert services.lead_capture(actor=user, data=data).created_by == user
    else:
        with pytest.raises(Forbidden):
            services.lead_capture(actor=user, data=data)
        assert not Lead.objects.exists()


def test_ui_hides_the_capture_button_from_the_service_role(org: Organisation) -> None:
    client = Client()
    client.force_login(org.service)
    assert client.get(reverse("leads:list")).context["can_capture"] is False
    client.force_login(org.marketing)
    assert client.get(reverse("leads:list")).context["can_capture"] is True


def test_emails_are_lower_cased_like_customers(org: Organisation, assigned_lead: Lead) -> None:
    lead = services.lead_capture(
        actor=org.marketing,
        data={"contact_name": "周九", "email": " Zhou.Jiu@Example.COM ", "source": "website"},
    )
    assert lead.email == "zhou.jiu@example.com"
    lead = services.lead_update(
        actor=org.rep,
        lead=assigned_lead,
        changes={"email": "Wang@Corp.CN"},
        version=assigned_lead.version,
    )
    assert lead.email == "wang@corp.cn"


def test_bad_phone_and_email_give_the_customers_messages(org: Organisation) -> None:
    with translation.override("en"), pytest.raises(InvalidInput) as raised:
        services.lead_capture(
            actor=org.marketing,
            data={"contact_name": "周九", "mobile": "12", "email": "x@", "source": "website"},
        )
    assert raised.value.errors == {
        "mobile": ["12 is not a valid phone number; write e.g. 13812345678 or 021-12345678."],
        "email": ["x@ is not a valid email address."],
    }
    assert not Lead.objects.exists()
