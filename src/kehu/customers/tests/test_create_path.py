"""Creating a customer: a fixed number of queries, and a duplicate check that reads indexes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services
from kehu.customers.models import Contact
from kehu.customers.services import dedup
from kehu.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db

TWO_CONTACTS = [
    {"name": "王伟", "mobile": "13912345678", "email": "wang@example.cn"},
    {"name": "李娜", "mobile": "13812345678", "work_phone": "021-62345678"},
]
# the duplicate check (contacts, name candidates), the number, customer and its history row,
# contacts and their history rows, the status-change row; and the transaction (here a
# savepoint and its release); the two entry-rule settings (customers.required_fields,
# customers.contact_required_fields: a query each here, where every test starts with an empty
# settings cache; a running process reads them from its cache)
SERVICE_CREATE_MAX = 12
# the token, the service, and the detail it answers (grants, customer, tags, contacts)
API_CREATE_MAX = 17


def test_service_create_with_two_contacts_runs_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    make_customer(org.rep)  # settings read once per process are read now
    with django_assert_max_num_queries(SERVICE_CREATE_MAX):
        customer = services.customer_create(
            actor=org.rep, data={"name": "上海星河精工科技有限公司"}, contacts=TWO_CONTACTS
        )
    contacts = list(customer.contacts.order_by("id"))
    assert [c.name for c in contacts] == ["王伟", "李娜"]
    assert [c.is_primary for c in contacts] == [True, False]
    assert contacts[1].work_phone == "+862162345678"
    for contact in contacts:
        (history,) = contact.history.all()
        assert (history.history_type, history.history_user_id) == ("+", org.rep.pk)
        assert history.history_change_reason == "创建客户"


def test_api_create_with_two_contacts_runs_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = api_client(org.rep)
    client.get("/api/v1/customers", {"limit": 1})  # the token's first use writes last_used_at
    make_customer(org.rep)
    body = {"name": "上海星河精工科技有限公司", "contacts": TWO_CONTACTS}
    with django_assert_max_num_queries(API_CREATE_MAX):
        response = client.post("/api/v1/customers", body, content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert [c["name"] for c in created["contacts"]] == ["王伟", "李娜"]
    assert created == client.get(f"/api/v1/customers/{created['id']}").json()


def test_a_name_sharing_a_crowded_prefix_still_finds_the_exact_one(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedup, "NAME_CANDIDATES", 2)
    for word in ("甲", "乙", "丙"):
        make_customer(org.rep, name=f"上海星河{word}方科技有限公司")
    exact = make_customer(org.rep, name="上海星河精工科技有限公司")
    found = services.find_duplicates(name="上海星河精工科技有限公司（北京）")
    assert (exact.pk, "name", 100.0) in {(m.customer_id, m.reason, m.score) for m in found}
    # a look-alike among the candidates is found by its prefix
    near = services.find_duplicates(name="上海星河甲方科技股份有限公司")
    assert {m.name for m in near} >= {"上海星河甲方科技有限公司"}


def test_phones_and_emails_are_found_in_any_column(org: Organisation) -> None:
    customer = make_customer(org.rep, contacts=TWO_CONTACTS)
    for phones, emails in (
        (["139 1234 5678"], []),
        (["021-6234-5678"], []),
        ([], ["WANG@example.cn"]),
    ):
        found = services.find_duplicates(phones=phones, emails=emails)
        assert [m.customer_id for m in found] == [customer.pk]
    assert services.find_duplicates(phones=["13700000000"], emails=["x@example.cn"]) == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="EXPLAIN QUERY PLAN is SQLite's")
def test_sqlite_duplicate_check_scans_no_table(org: Organisation) -> None:
    customer = make_customer(org.rep, contacts=TWO_CONTACTS)
    # statistics like a database in use, where most contacts have no work phone
    services.customers_create_bulk(
        actor=org.rep,
        rows=[services.NewCustomer(values={"name": f"测试{n}号有限公司"}) for n in range(300)],
    )
    Contact.objects.bulk_create(
        Contact(customer=customer, name=f"联系人{n}", mobile=f"+86139{n:08d}") for n in range(300)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as captured:
        services.find_duplicates(
            name="上海星河精工科技有限公司",
            phones=["13912345678", "021-62345678"],
            emails=["wang@example.cn"],
            credit_code="91310000MA1FL0000N",
        )
    plans = []
    for query in captured.captured_queries:
        if not query["sql"].startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plans.append(" / ".join(str(row[-1]) for row in cursor.fetchall()))
    assert len(plans) >= 3
    for plan in plans:
        assert not re.search(r"\bSCAN (customers_customer|customers_contact)\b", plan), plan
    joined = " ".join(plans)
    assert "contact_work_phone_set" in joined
    assert "customers_customer_name_key" in joined
