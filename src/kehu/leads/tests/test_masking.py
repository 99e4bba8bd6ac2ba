"""Lead mobile and email are masked for users without full access to the lead (marketing)."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kehu.core import config
from kehu.core.testing.factories import Organisation, api_client
from kehu.leads.models import Lead, LeadStatus
from kehu.leads.tests.conftest import LeadFactory

pytestmark = pytest.mark.django_db

MOBILE = "13812341234"
EMAIL = "zhang.san@corp.cn"


@pytest.fixture
def rep_lead(org: Organisation, make_lead: LeadFactory) -> Lead:
    return make_lead(actor=org.rep, mobile=MOBILE, email=EMAIL)


def test_api_masks_list_and_detail_for_marketing_only(org: Organisation, rep_lead: Lead) -> None:
    client = api_client(org.marketing)
    body = client.get(f"/api/v1/leads/{rep_lead.pk}").json()
    assert (body["mobile"], body["email"], body["masked"]) == ("138****1234", "zh***@corp.cn", True)
    listed = {row["id"]: row for row in client.get("/api/v1/leads").json()["items"]}
    assert listed[rep_lead.pk]["mobile"] == "138****1234"
    assert listed[rep_lead.pk]["masked"] is True
    for user in (org.rep, org.admin):
        body = api_client(user).get(f"/api/v1/leads/{rep_lead.pk}").json()
        assert (body["mobile"], body["email"], body["masked"]) == ("+8613812341234", EMAIL, False)


def test_masking_costs_no_query_per_row(org: Organisation, make_lead: LeadFactory) -> None:
    def queries(path: str) -> int:
        client = api_client(org.east_manager)
        client.force_login(org.east_manager)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    make_lead(actor=org.rep)
    make_lead()
    # warm the process's caches (the custom fields' definitions are read once per process)
    queries("/api/v1/leads"), queries(reverse("leads:list"))
    one = (queries("/api/v1/leads"), queries(reverse("leads:list")))
    for _ in range(4):
        make_lead(actor=org.rep)
        make_lead()
    assert (queries("/api/v1/leads"), queries(reverse("leads:list"))) == one


def test_pages_mask_list_and_detail(org: Organisation, rep_lead: Lead) -> None:
    ui = Client()
    ui.force_login(org.marketing)
    detail = ui.get(reverse("leads:detail", args=[rep_lead.pk])).content.decode()
    listed = ui.get(reverse("leads:list")).content.decode()
    for page in (detail, listed):
        assert "138****1234" in page
        assert "13812341234" not in page
        assert "1234 1234" not in page
    assert "zh***@corp.cn" in detail
    assert EMAIL not in detail
    ui.force_login(org.rep)
    detail = ui.get(reverse("leads:detail", args=[rep_lead.pk])).content.decode()
    assert EMAIL in detail
    assert "138****1234" not in detail


def test_export_masks_rows_without_full_access(org: Organisation, rep_lead: Lead) -> None:
    config.put("transfer.export_roles", ["admin", "marketing"])

    def cells(user: object) -> set[str]:
        response = api_client(user).get("/api/v1/exports/leads?format=csv")
        assert response.status_code == 200
        content = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
        return {cell for row in csv.reader(io.StringIO(content)) for cell in row}

    marketing = cells(org.marketing)
    assert {"138****1234", "zh***@corp.cn"} <= marketing
    assert EMAIL not in marketing
    admin = cells(org.admin)
    assert EMAIL in admin
    assert "138****1234" not in admin


def test_masked_editor_keeps_stored_numbers(org: Organisation, make_lead: LeadFactory) -> None:
    lead = make_lead(mobile=MOBILE, email=EMAIL)
    assert lead.status == LeadStatus.POOL
    assert lead.assignee_id is None
    ui = Client()
    ui.force_login(org.marketing)
    url = reverse("leads:edit", args=[lead.pk])
    form = ui.get(url).content.decode()
    assert 'name="mobile"' not in form
    assert 'name="email"' not in form
    response = ui.post(
        url,
        {
            "version": lead.version,
            "contact_name": "王五",
            "mobile": "138****1234",
            "email": "zh***@corp.cn",
            "urgency": lead.urgency,
            "source": lead.source,
        },
    )
    assert response.status_code == 302, response.content
    lead.refresh_from_db()
    assert (lead.contact_name, lead.mobile, lead.email) == ("王五", "+8613812341234", EMAIL)
    client = api_client(org.marketing)
    response = client.patch(
        f"/api/v1/leads/{lead.pk}",
        {"version": lead.version, "mobile": "138****1234", "email": "zh***@corp.cn", "need": "ERP"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert (lead.need, lead.mobile, lead.email) == ("ERP", "+8613812341234", EMAIL)


def test_history_hides_number_changes_from_marketing(org: Organisation, rep_lead: Lead) -> None:
    from kehu.core.selectors import record_history
    from kehu.leads import services

    services.lead_update(
        actor=org.rep, lead=rep_lead, changes={"mobile": "13912345678"}, version=rep_lead.version
    )
    rep_lead.refresh_from_db()

    def changed(user: object) -> set[str]:
        entries = record_history(user=user, record=rep_lead)
        return {change.field for entry in entries for change in entry.changes}

    assert "mobile" in changed(org.rep)
    assert "mobile" not in changed(org.marketing)
