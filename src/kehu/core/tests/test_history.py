"""Change history: who, when, what (field diff) and which request, per record."""

from __future__ import annotations

import pytest
from django.test import Client

from kehu.accounts import services as accounts
from kehu.core.context import acting_context
from kehu.core.history import history_entries, stamp
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import selectors as customer_selectors
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def test_service_writes_are_attributed_with_request_id(org: Organisation) -> None:
    with acting_context("cli-test-1"):
        department = accounts.department_create(name="西南区", actor=org.admin)
    with acting_context("cli-test-2"):
        department.name = "西南大区"
        stamp(department, actor=org.admin, reason="区域合并")
        department.save()

    newest, created = history_entries(department.history.all())
    assert created.action == "+"
    assert created.request_id == "cli-test-1"
    assert newest.action == "~"
    assert newest.user_id == org.admin.pk
    assert newest.reason == "区域合并"
    assert newest.request_id == "cli-test-2"
    assert [(c.field, c.old, c.new) for c in newest.changes] == [("name", "西南区", "西南大区")]
    assert newest.object_label.endswith(": 西南大区")


def test_web_requests_record_the_signed_in_user_and_request_id(org: Organisation) -> None:
    client = Client()
    client.force_login(org.rep)
    response = client.post(
        "/accounts/profile/",
        {"action": "profile", "display_name": "李雷", "email": "li@example.cn", "language": ""},
        HTTP_X_REQUEST_ID="req-abc123",
    )
    assert response.status_code == 302
    entry = history_entries(org.rep.history.all())[0]
    assert entry.user_id == org.rep.pk
    assert entry.request_id == "req-abc123"
    assert {c.field for c in entry.changes} == {"display_name", "email"}


def test_history_api_shows_field_diffs_and_hides_masked_fields(org: Organisation) -> None:
    customer = Customer.objects.create(
        number="H-001", name="上海测试机械有限公司", owner=org.rep, department=org.shanghai
    )
    customer.annual_budget = 200000
    customer.address = "上海市浦东新区"
    stamp(customer, actor=org.rep, reason="月度回顾")
    customer.save()

    path = f"/api/v1/history/customers.customer/{customer.pk}"
    as_owner = api_client(org.rep).get(path).json()
    assert as_owner["count"] == 2
    changed = {change["field"] for change in as_owner["items"][0]["changes"]}
    assert changed == {"annual_budget", "address"}
    assert as_owner["items"][0]["user_name"] == str(org.rep)

    as_marketing = api_client(org.marketing).get(path).json()
    assert {c["field"] for c in as_marketing["items"][0]["changes"]} == {"address"}


def test_history_page_renders_for_htmx_and_full_page(org: Organisation) -> None:
    customer = Customer.objects.create(
        number="H-002", name="<script>alert(1)</script>", owner=org.rep, department=org.shanghai
    )
    client = Client()
    client.force_login(org.rep)
    page = client.get(f"/history/customers.customer/{customer.pk}/")
    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.content
    fragment = client.get(f"/history/customers.customer/{customer.pk}/", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content
    assert b"history-entries" in fragment.content


def test_a_contact_is_diffed_against_its_own_previous_version(org: Organisation) -> None:
    """Interleaved rows of two contacts: each diff pairs a contact with itself, not with the
    other contact's row before it (which showed id, mobile and name "changed")."""
    customer = make_customer(org.rep)
    first = customer_services.contact_create(
        actor=org.rep, customer=customer, data={"name": "张经理", "mobile": "13800138000"}
    )
    customer_services.contact_create(
        actor=org.rep, customer=customer, data={"name": "李工", "mobile": "13900139000"}
    )
    customer_services.contact_update(
        actor=org.rep, contact=first, changes={"title": "采购总监"}, version=first.version
    )
    entries = customer_selectors.customer_history(user=org.rep, customer=customer)
    updates = [entry for entry in entries if entry.action == "~" and "张经理" in entry.object_label]
    assert [[(c.field, c.new) for c in entry.changes] for entry in updates] == [
        [("title", "采购总监")]
    ]
    for entry in entries:
        assert not {c.field for c in entry.changes} & {"id", "customer"}, entry
