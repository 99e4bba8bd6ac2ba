"""The retention pages and API as an administrator uses them: policies, the review list, the
approval, the legal hold card of the customer page; each a fixed number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.models import AuditEntry
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Customer
from kehu.governance.models import DestructionBatch, DestructionItem, ItemStatus, RetentionPolicy
from kehu.governance.services import holds, retention
from kehu.governance.tests.retention_support import customer_at, lead_at

YEAR = 366


@pytest.fixture(autouse=True)
def _policies(db: None) -> None:
    """The policies the migration makes; a transactional test elsewhere flushes them."""
    retention.ensure_default_policies()


def _client(org: Organisation) -> Client:
    client = Client()
    client.force_login(org.admin)
    return client


def test_policy_page_edits_and_refuses_out_of_range(org: Organisation) -> None:
    customer_at(org, days_ago=4 * YEAR)
    client = _client(org)
    page = client.get(reverse("governance:retention"))
    assert page.status_code == 200
    assert 'id="policy-customer.churned"' in page.content.decode()
    policy = RetentionPolicy.objects.get(key="customer.churned")
    url = reverse("governance:retention_policy", args=[policy.pk])
    answer = client.post(url, {"version": policy.version, "years": 11, "is_active": "on"})
    assert answer.status_code == 302
    policy.refresh_from_db()
    assert policy.years == 3  # refused, with a message
    client.post(url, {"version": policy.version, "years": 7, "is_active": "on"}, follow=True)
    policy.refresh_from_db()
    assert policy.years == 7
    assert "7" in client.get(reverse("governance:retention")).content.decode()


def test_review_page_approves(
    org: Organisation, django_capture_on_commit_callbacks: Any, django_assert_max_num_queries: Any
) -> None:
    due = customer_at(org, days_ago=4 * YEAR)
    kept = customer_at(org, days_ago=4 * YEAR)
    lead = lead_at(org, days_ago=2 * YEAR)
    client = _client(org)
    answer = client.post(reverse("governance:retention_batches"))
    batch = DestructionBatch.objects.get()
    assert answer.url == reverse("governance:retention_batch", args=[batch.pk])
    with django_assert_max_num_queries(14):
        page = client.get(answer.url)
    text = page.content.decode()
    assert due.name in text
    assert kept.name in text
    assert lead.company_name in text
    for _ in range(4):
        customer_at(org, days_ago=4 * YEAR)
    keep_item = DestructionItem.objects.get(batch=batch, object_id=kept.pk)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            answer.url,
            {"version": batch.version, "action": "approve", "exclude": [str(keep_item.pk)]},
        )
    assert not Customer.objects.filter(pk=due.pk).exists()
    assert Customer.objects.filter(pk=kept.pk).exists()
    keep_item.refresh_from_db()
    assert keep_item.status == ItemStatus.EXCLUDED
    page = client.get(answer.url).content.decode()
    assert due.name not in page  # the list keeps ids only
    assert AuditEntry.objects.filter(action="governance.destruction").count() == 2


def test_legal_hold_card_and_list(org: Organisation) -> None:
    customer = customer_at(org, days_ago=10)
    client = _client(org)
    tab = reverse("customers:tab", args=[customer.pk, "legal-hold"])
    set_url = reverse("governance:hold_set", args=[customer.pk])
    assert f'action="{set_url}"' in client.get(tab).content.decode()
    client.post(set_url, {"reason": "诉讼保全"})
    assert holds.is_held(customer.pk)
    card = client.get(tab).content.decode()
    assert "诉讼保全" in card
    hold = customer.legal_holds.get()
    remove_url = reverse("governance:hold_remove", args=[hold.pk])
    assert f'action="{remove_url}"' in card
    listed = client.get(reverse("governance:legal_holds")).content.decode()
    assert customer.name in listed
    client.post(remove_url, {"reason": "结案"})
    assert not holds.is_held(customer.pk)
    assert (
        customer.name
        in client.get(reverse("governance:legal_holds") + "?state=removed").content.decode()
    )
    # a rep sees no card
    rep = Client()
    rep.force_login(org.rep)
    Customer.objects.filter(pk=customer.pk).update(owner=org.rep)
    assert rep.get(tab).content.decode() == ""


def test_api_due_prepare_approve(
    org: Organisation, django_capture_on_commit_callbacks: Any, django_assert_max_num_queries: Any
) -> None:
    customer = customer_at(org, days_ago=4 * YEAR)
    held = customer_at(org, days_ago=4 * YEAR)
    holds.hold_set(actor=org.admin, customer_id=held.pk, reason="保全")
    client = api_client(org.admin)
    due = client.get("/api/v1/destructions/due").json()
    assert due["count"] == 2
    assert {(row["object_id"], row["held"]) for row in due["items"]} == {
        (customer.pk, False),
        (held.pk, True),
    }
    for month in ("0001-01-01", "9999-12-01"):
        far = client.get(f"/api/v1/destructions/due?month={month}")
        assert far.status_code == 422, far.content
        assert "month" in far.json()["errors"]
        far = client.post("/api/v1/destructions", {"month": month}, content_type="application/json")
        assert far.status_code == 422, far.content
    made = client.post("/api/v1/destructions", {}, content_type="application/json")
    assert made.status_code == 201, made.content
    batch = made.json()
    assert batch["counts"] == {"pending": 1, "skipped": 1}
    again = client.post("/api/v1/destructions", {}, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["code"] == "review_exists"
    for month in ("2031-01-01", "2031-02-01"):
        later = client.post(
            "/api/v1/destructions", {"month": month}, content_type="application/json"
        )
        assert later.json()["counts"] == {"skipped": 1}  # the other is on the open list
    with django_assert_max_num_queries(8):
        listed = client.get("/api/v1/destructions").json()
    assert listed["count"] == 3
    assert {"pending": 1, "skipped": 1} in [row["counts"] for row in listed["items"]]
    bad = client.post(
        f"/api/v1/destructions/{batch['id']}/approve",
        {"version": batch["version"], "exclude": [999999]},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "exclude" in bad.json()["errors"]
    with django_capture_on_commit_callbacks(execute=True):
        approved = client.post(
            f"/api/v1/destructions/{batch['id']}/approve",
            {"version": batch["version"]},
            content_type="application/json",
        )
    assert approved.status_code == 200, approved.content
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert Customer.objects.filter(pk=held.pk).exists()


def test_api_legal_holds(org: Organisation) -> None:
    customer = customer_at(org, days_ago=10)
    client = api_client(org.admin)
    made = client.post(
        "/api/v1/legal-holds",
        {"customer_id": customer.pk, "reason": "诉讼"},
        content_type="application/json",
    )
    assert made.status_code == 201
    assert made.json()["is_active"] is True
    twice = client.post(
        "/api/v1/legal-holds",
        {"customer_id": customer.pk, "reason": "诉讼"},
        content_type="application/json",
    )
    assert twice.status_code == 409
    missing = client.post(
        "/api/v1/legal-holds",
        {"customer_id": 999999, "reason": "x"},
        content_type="application/json",
    )
    assert missing.status_code == 422
    assert "customer_id" in missing.json()["errors"]
    assert client.get("/api/v1/legal-holds").json()["count"] == 1
    removed = client.post(
        f"/api/v1/legal-holds/{made.json()['id']}/remove",
        {"reason": "结案"},
        content_type="application/json",
    )
    assert removed.status_code == 200
    assert removed.json()["is_active"] is False
    assert client.get("/api/v1/legal-holds").json()["count"] == 0
    assert client.get("/api/v1/legal-holds?active=false").json()["count"] == 1
    assert api_client(org.east_manager).get("/api/v1/legal-holds").status_code == 403
