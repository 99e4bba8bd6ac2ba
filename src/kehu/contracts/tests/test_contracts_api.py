"""/api/v1/contracts and the contract pages: create, edit, review through HTTP; lists in a fixed
number of queries; the deal page's card; errors as 4xx naming the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from kehu.contracts.models import Contract, ContractStatus
from kehu.contracts.services import contracts as services
from kehu.contracts.tests.support import approved_contract, contract_file, draft_contract
from kehu.core.testing.factories import Organisation, api_client
from kehu.opportunities import services as deals
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import ready_for_proposal


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def negotiation(org: Organisation) -> Opportunity:
    deal = ready_for_proposal(org.rep)
    deal = deals.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="proposal")
    return deals.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_create_edit_submit_and_review_through_the_api(org: Organisation) -> None:
    deal = negotiation(org)
    rep = api_client(org.rep)
    created = rep.post(
        "/api/v1/contracts",
        {
            "opportunity_id": deal.pk,
            "title": "MES 系统采购合同",
            "amount": "380000.00",
            "signed_on": "2026-12-08",
            "terms": "预付30%",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"].startswith("HT")
    assert body["status"] == "draft"
    assert body["amount"] == 380000.0
    assert body["currency"] == deal.currency
    contract_id = body["id"]
    patched = rep.patch(
        f"/api/v1/contracts/{contract_id}",
        {"version": body["version"], "ends_on": "2026-01-01", "starts_on": "2026-12-08"},
        content_type="application/json",
    )
    assert patched.status_code == 422
    assert "ends_on" in patched.json()["errors"]
    submitted = rep.post(
        f"/api/v1/contracts/{contract_id}/submit", {}, content_type="application/json"
    )
    assert submitted.json()["status"] == "in_review"
    own = rep.post(f"/api/v1/contracts/{contract_id}/approve", {}, content_type="application/json")
    assert own.status_code == 403
    manager = api_client(org.east_manager)
    no_comment = manager.post(
        f"/api/v1/contracts/{contract_id}/return", {}, content_type="application/json"
    )
    assert no_comment.status_code == 422
    assert "comment" in no_comment.json()["errors"]
    returned = manager.post(
        f"/api/v1/contracts/{contract_id}/return",
        {"comment": "补充验收标准"},
        content_type="application/json",
    )
    assert returned.json()["status"] == "returned"
    assert returned.json()["reviews"][0]["comment"] == "补充验收标准"
    rep.post(f"/api/v1/contracts/{contract_id}/submit", {}, content_type="application/json")
    approved = manager.post(
        f"/api/v1/contracts/{contract_id}/approve", {}, content_type="application/json"
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert [r["decision"] for r in approved.json()["reviews"]] == ["approved", "returned"]
    locked = rep.patch(
        f"/api/v1/contracts/{contract_id}",
        {"version": approved.json()["version"], "title": "改"},
        content_type="application/json",
    )
    assert locked.status_code == 409


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "合同", "amount": "-5"}, "amount"),
        ({"title": "合同", "amount": "abc"}, "amount"),
        ({"title": "", "amount": "100"}, "title"),
        ({"title": "合同", "amount": "100", "currency": "BTC"}, "currency"),
        ({"title": "合同", "amount": "100", "signed_on": "2026-02-30"}, "signed_on"),
    ],
)
@pytest.mark.django_db
def test_bad_input_is_a_422_naming_the_field(
    org: Organisation, payload: dict[str, Any], field: str
) -> None:
    deal = negotiation(org)
    answer = api_client(org.rep).post(
        "/api/v1/contracts",
        {"opportunity_id": deal.pk, **payload},
        content_type="application/json",
    )
    assert answer.status_code == 422, answer.content
    assert field in str(answer.json()), answer.json()
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_file_upload_and_download(org: Organisation) -> None:
    contract = draft_contract(negotiation(org), file=False)
    rep = api_client(org.rep)
    answer = rep.post(f"/api/v1/contracts/{contract.pk}/file", {"file": contract_file()})
    assert answer.status_code == 200, answer.content
    assert answer.json()["has_file"] is True
    download = rep.get(f"/api/v1/contracts/{contract.pk}/file")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    bad = rep.post(
        f"/api/v1/contracts/{contract.pk}/file",
        {"file": SimpleUploadedFile("x.pdf", b"<html><script>1</script>")},
    )
    assert bad.status_code == 422


@pytest.mark.django_db
def test_the_list_is_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    for _ in range(6):
        contract = draft_contract(negotiation(org))
        services.contract_submit(actor=org.rep, contract=contract)
    manager = api_client(org.east_manager)
    with django_assert_max_num_queries(12):
        answer = manager.get("/api/v1/contracts?box=to_review")
    assert answer.json()["count"] == 6
    browser = signed_in(org.east_manager)
    browser.get(reverse("contracts:list"))
    with django_assert_max_num_queries(14):
        page = browser.get(reverse("contracts:list"))
    assert page.status_code == 200
    assert page.content.decode().count("contracts/") >= 6
    mine = api_client(org.rep).get("/api/v1/contracts?box=to_review")
    assert mine.json()["count"] == 0
    other = api_client(org.south_rep).get("/api/v1/contracts")
    assert other.json()["count"] == 0
    filtered = manager.get("/api/v1/contracts?status=approved")
    assert filtered.json()["count"] == 0
    bad = manager.get("/api/v1/contracts?status=nonsense")
    assert bad.status_code == 422


@pytest.mark.django_db
def test_the_deal_page_shows_the_contract_card(org: Organisation) -> None:
    deal = negotiation(org)
    client = signed_in(org.rep)
    page = client.get(reverse("opportunities:detail", args=[deal.pk])).content.decode()
    assert 'id="deal-section-contract"' in page
    assert reverse("contracts:contract_new", args=[deal.pk]) in page
    assert 'id="contract-draft-due"' in page
    contract = approved_contract(deal, amount=Decimal("380000"))
    page = client.get(reverse("opportunities:detail", args=[deal.pk])).content.decode()
    assert contract.number in page
    assert reverse("contracts:contract_new", args=[deal.pk]) not in page


@pytest.mark.django_db
def test_drafting_from_the_page_with_a_file(org: Organisation) -> None:
    deal = negotiation(org)
    client = signed_in(org.rep)
    url = reverse("contracts:contract_new", args=[deal.pk])
    refused = client.post(url, {"title": "合同", "amount": "0", "currency": "CNY"})
    assert refused.status_code == 200
    assert not Contract.objects.exists()
    answer = client.post(
        url,
        {"title": "合同", "amount": "5000", "currency": "CNY", "file": contract_file()},
    )
    assert answer.status_code == 302
    contract = Contract.objects.get()
    assert contract.file
    assert contract.status == ContractStatus.DRAFT
    detail = client.get(reverse("contracts:contract_detail", args=[contract.pk]))
    assert "submit-contract" in detail.content.decode()


@pytest.mark.django_db
def test_the_manager_dashboard_lists_contracts_to_review(org: Organisation) -> None:
    manager = signed_in(org.east_manager)
    assert 'id="contract-review-panel"' not in manager.get("/").content.decode()
    contract = services.contract_submit(actor=org.rep, contract=draft_contract(negotiation(org)))
    page = manager.get("/").content.decode()
    assert 'id="contract-review-panel"' in page
    assert contract.number in page
    assert 'id="contract-review-panel"' not in signed_in(org.rep).get("/").content.decode()
