"""External ids and upsert: idempotent PUT, bulk per-record results, scope, validation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, StatusChange
from kehu.integrations.models import ExternalId
from kehu.opportunities.models import Opportunity

pytestmark = pytest.mark.django_db

BASE = "/api/v1"


def put(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.put(BASE + path, json.dumps(body), content_type="application/json")


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(BASE + path, json.dumps(body), content_type="application/json")


def test_put_creates_then_updates_then_is_unchanged(org: Organisation) -> None:
    client = api_client(org.rep)
    path = "/customers/by-external/kingdee/C00012"
    first = put(client, path, {"name": "杭州云帆科技有限公司", "address": "杭州市西湖区"})
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["result"] == "created"
    assert body["external_ids"][0]["system"] == "kingdee"
    assert body["external_ids"][0]["id"] == "C00012"
    customer = Customer.objects.get(pk=body["customer"]["id"])
    assert customer.number  # numbered by the same service as the UI
    assert customer.owner_id == org.rep.pk
    assert customer.history.count() == 1
    assert StatusChange.objects.filter(customer=customer).count() == 1

    again = put(client, path, {"name": "杭州云帆科技有限公司", "address": "杭州市西湖区"})
    assert again.status_code == 200
    assert again.json()["result"] == "unchanged"
    assert Customer.objects.filter(name="杭州云帆科技有限公司").count() == 1
    assert customer.history.count() == 1

    changed = put(client, "/customers/by-external/KINGDEE/C00012", {"address": "杭州市滨江区"})
    assert changed.status_code == 200
    assert changed.json()["result"] == "updated"
    customer.refresh_from_db()
    assert customer.address == "杭州市滨江区"
    assert customer.history.count() == 2

    got = api_client(org.rep).get(BASE + "/customers/by-external/kingdee/C00012")
    assert got.status_code == 200
    assert got.json()["customer"]["address"] == "杭州市滨江区"
    assert got.json()["result"] is None


def test_edit_in_kehu_then_same_input_restores_the_erp_value(org: Organisation) -> None:
    client = api_client(org.rep)
    path = "/customers/by-external/kingdee/C1"
    made = put(client, path, {"name": "宁波海曙贸易有限公司", "address": "宁波"}).json()
    customer = Customer.objects.get(pk=made["customer"]["id"])
    customer_services.customer_update(
        actor=org.rep, customer=customer, changes={"address": "改过"}, version=customer.version
    )
    again = put(client, path, {"name": "宁波海曙贸易有限公司", "address": "宁波"})
    assert again.json()["result"] == "updated"
    customer.refresh_from_db()
    assert customer.address == "宁波"


def test_out_of_scope_external_id_is_404_and_changes_nothing(org: Organisation) -> None:
    made = put(api_client(org.rep), "/customers/by-external/kingdee/C2", {"name": "上海甲公司"})
    customer = Customer.objects.get(pk=made.json()["customer"]["id"])
    other = api_client(org.south_rep)
    answer = put(other, "/customers/by-external/kingdee/C2", {"name": "被改了"})
    assert answer.status_code == 404
    assert "上海甲公司" not in answer.content.decode()
    assert other.get(BASE + "/customers/by-external/kingdee/C2").status_code == 404
    customer.refresh_from_db()
    assert customer.name == "上海甲公司"
    bulk = post(
        other,
        "/customers/upsert",
        {"records": [{"system": "kingdee", "id": "C2", "data": {"name": "被改了"}}]},
    )
    assert bulk.status_code == 200
    assert bulk.json()["results"][0]["result"] == "error"
    assert bulk.json()["results"][0]["code"] == "not_found"
    customer.refresh_from_db()
    assert customer.name == "上海甲公司"
    assert ExternalId.objects.count() == 1


def test_bad_input_names_the_field(org: Organisation) -> None:
    client = api_client(org.rep)
    missing = put(client, "/customers/by-external/kingdee/C3", {"address": "x"})
    assert missing.status_code == 422
    assert "name" in missing.json()["errors"]
    bad_system = put(client, "/customers/by-external/金蝶 !/C3", {"name": "甲"})
    assert bad_system.status_code == 422
    assert "system" in bad_system.json()["errors"]
    wrong_type = put(
        client, "/customers/by-external/kingdee/C3", {"name": "甲", "annual_budget": "many"}
    )
    assert wrong_type.status_code == 422
    assert not Customer.objects.exists()
    assert not ExternalId.objects.exists()


def test_bulk_one_bad_record_does_not_stop_the_others(org: Organisation) -> None:
    client = api_client(org.rep)
    records = [
        {"system": "kingdee", "id": "B1", "data": {"name": "北京一号有限公司"}},
        {"system": "kingdee", "id": "B2", "data": {"address": "no name"}},
        {
            "system": "kingdee",
            "id": "B3",
            "data": {"name": "北京三号有限公司", "annual_budget": "x"},
        },
        {"system": "kingdee", "id": "", "data": {"name": "北京四号有限公司"}},
        {"system": "kingdee", "id": "B1", "data": {"name": "北京一号有限公司", "address": "北京"}},
        {"system": "kingdee", "id": "B6", "data": {"name": "北京六号有限公司", "status": "bogus"}},
        "not an object",
    ]
    answer = post(client, "/customers/upsert", {"records": records})
    assert answer.status_code == 200, answer.content
    results = answer.json()["results"]
    assert [r["result"] for r in results] == [
        "created",
        "error",
        "error",
        "error",
        "updated",
        "error",
        "error",
    ]
    assert "name" in results[1]["errors"]
    assert "annual_budget" in results[2]["errors"]
    assert "id" in results[3]["errors"]
    assert "status" in results[5]["errors"]
    assert answer.json()["counts"] == {"created": 1, "updated": 1, "unchanged": 0, "error": 5}
    assert list(Customer.objects.values_list("name", flat=True)) == ["北京一号有限公司"]
    assert Customer.objects.get().address == "北京"
    assert ExternalId.objects.count() == 1  # nothing half-written for the failed ones
    again = post(client, "/customers/upsert", {"records": [records[4]]})
    assert again.json()["results"][0]["result"] == "unchanged"


def test_bulk_refuses_more_than_1000(org: Organisation) -> None:
    records = [{"system": "k", "id": str(i), "data": {"name": f"公司{i}"}} for i in range(1001)]
    answer = post(api_client(org.admin), "/customers/upsert", {"records": records})
    assert answer.status_code == 422
    assert not Customer.objects.exists()


def test_duplicate_is_an_error_unless_forced_or_linked(org: Organisation) -> None:
    client = api_client(org.rep)
    existing = customer_services.customer_create(
        actor=org.rep, data={"name": "深圳前海贸易有限公司"}
    )
    dup = put(client, "/customers/by-external/kingdee/D1", {"name": "深圳前海贸易有限公司"})
    assert dup.status_code == 409
    assert dup.json()["code"] == "duplicate"
    linked = put(
        client,
        "/customers/by-external/kingdee/D1",
        {"name": "深圳前海贸易有限公司", "kehu_id": existing.pk},
    )
    assert linked.status_code == 200
    assert linked.json()["customer"]["id"] == existing.pk
    assert Customer.objects.count() == 1
    clash = put(client, "/customers/by-external/kingdee/D2", {"kehu_id": existing.pk})
    assert clash.status_code == 409
    assert clash.json()["code"] == "external_id_conflict"


def test_contacts_and_opportunities_by_customer_external_id(org: Organisation) -> None:
    client = api_client(org.rep)
    put(client, "/customers/by-external/kingdee/C10", {"name": "苏州工业园区某公司"})
    contact = put(
        client,
        "/contacts/by-external/kingdee/P1",
        {"customer_external_id": "C10", "name": "王强", "mobile": "13812345678"},
    )
    assert contact.status_code == 201, contact.content
    assert contact.json()["contact"]["name"] == "王强"
    assert Contact.objects.get().customer.name == "苏州工业园区某公司"
    renamed = put(client, "/contacts/by-external/kingdee/P1", {"title": "采购经理"})
    assert renamed.json()["result"] == "updated"
    deal = put(
        client,
        "/opportunities/by-external/kingdee/O1",
        {"customer_external_id": "C10", "name": "ERP 一期", "amount": "120000"},
    )
    assert deal.status_code == 201, deal.content
    assert Opportunity.objects.get().name == "ERP 一期"
    updated = put(client, "/opportunities/by-external/kingdee/O1", {"amount": "150000"})
    assert updated.json()["result"] == "updated"
    assert updated.json()["opportunity"]["amount"] == 150000
    no_customer = put(client, "/opportunities/by-external/kingdee/O2", {"name": "x"})
    assert no_customer.status_code == 422
    assert "customer_id" in no_customer.json()["errors"]
    bulk = post(
        client,
        "/contacts/upsert",
        {
            "records": [
                {
                    "system": "kingdee",
                    "id": "P2",
                    "data": {"customer_external_id": "C10", "name": "李娜"},
                },
                {
                    "system": "kingdee",
                    "id": "P3",
                    "data": {"customer_external_id": "NOPE", "name": "x"},
                },
            ]
        },
    )
    assert [r["result"] for r in bulk.json()["results"]] == ["created", "error"]
    assert "customer_external_id" in bulk.json()["results"][1]["errors"]
    got = client.get(BASE + "/contacts/by-external/kingdee/P2")
    assert got.json()["contact"]["name"] == "李娜"


def test_customer_page_lists_external_ids_for_admins_and_owners(org: Organisation) -> None:
    made = put(
        api_client(org.rep), "/customers/by-external/kingdee/C77", {"name": "广州番禺有限公司"}
    )
    customer = Customer.objects.get(pk=made.json()["customer"]["id"])
    put(
        api_client(org.rep),
        "/contacts/by-external/kingdee/P77",
        {"customer_external_id": "C77", "name": "陈红"},
    )
    customer_services.customer_share(actor=org.rep, customer=customer, user=org.colleague)
    url = reverse("customers:tab", args=[customer.pk, "external-ids"])
    for user in (org.rep, org.admin):
        client = Client()
        client.force_login(user)
        page = client.get(url)
        assert page.status_code == 200
        text = page.content.decode()
        assert "C77" in text
        assert "P77" in text
        assert "陈红" in text
    client = Client()
    client.force_login(org.colleague)  # sees the customer, does not own it
    page = client.get(url)
    assert page.status_code == 200
    assert "C77" not in page.content.decode()
    client.force_login(org.south_rep)
    assert client.get(url).status_code == 404


@pytest.mark.entry_rules
def test_upsert_follows_the_entry_rules(org: Organisation) -> None:
    client = api_client(org.rep)
    path = "/customers/by-external/kingdee/E1"
    bare = put(client, path, {"name": "武汉光谷科技有限公司"})
    assert bare.status_code == 422
    assert {"industry", "source"} <= set(bare.json()["errors"])
    assert not Customer.objects.exists()
    full = put(
        client,
        path,
        {
            "name": "武汉光谷科技有限公司",
            "industry": "待核实",
            "employees_band": "待核实",
            "source": "待核实",
            "initial_need": "ERP 对接",
            "contacts": [{"name": "赵敏", "mobile": "13912345678"}],
        },
    )
    assert full.status_code == 201, full.content
    assert full.json()["customer"]["contacts"][0]["name"] == "赵敏"
    assert "industry" in full.json()["customer"]["to_verify"]


def test_unchanged_records_cost_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = api_client(org.admin)
    records = [
        {"system": "kingdee", "id": f"Q{i}", "data": {"name": name}}
        for i, name in enumerate(
            [
                "上海恒泰机械有限公司",
                "北京博创软件有限公司",
                "深圳鑫源电子科技有限公司",
                "广州嘉和商贸有限公司",
                "杭州明辉网络科技有限公司",
                "苏州永隆精密制造有限公司",
                "南京东方物流有限公司",
                "成都腾飞检测技术有限公司",
            ]
        )
    ]
    first = post(client, "/customers/upsert", {"records": records})
    assert first.json()["counts"]["created"] == 8, first.json()
    with django_assert_max_num_queries(12):  # token, user, session bits, mappings, versions
        again = post(client, "/customers/upsert", {"records": records})
    assert again.json()["counts"] == {"created": 0, "updated": 0, "unchanged": 8, "error": 0}


def test_bulk_endpoints_need_a_signed_in_caller(org: Organisation) -> None:
    body = {"records": [{"system": "kingdee", "id": "A1", "data": {"name": "匿名有限公司"}}]}
    for kind in ("customers", "contacts", "opportunities"):
        answer = post(Client(), f"/{kind}/upsert", body)
        assert answer.status_code == 401
        assert answer.json()["code"] == "not_authenticated"
    assert not Customer.objects.exists()
