"""The bulk upsert's batch of new customers, and external ids across a customer merge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, StatusChange
from kehu.integrations.models import ExternalId

pytestmark = pytest.mark.django_db

BASE = "/api/v1"
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "苏州"]
TRADES = ["机械", "电子", "物流", "软件", "化工", "纺织", "食品", "建材", "医疗", "能源"]
BRANDS = ["恒泰", "博创", "鑫源", "嘉和", "明辉", "永隆", "东方", "腾飞", "瑞德", "华信"]


def upsert(client: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    answer = client.post(
        BASE + "/customers/upsert",
        json.dumps({"records": records}, ensure_ascii=False),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def company(index: int) -> str:
    """Distinct names the dedup does not take for one another (brand × trade × city)."""
    return CITIES[index % 10] + BRANDS[index // 10 % 10] + TRADES[index // 100 % 10] + "有限公司"


def new_records(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "system": "kingdee",
            "id": f"N{index}",
            "data": {
                "name": company(index),
                "industry": "I",
                "tags": ["ERP", " 经销商 "],
                "contacts": [{"name": "王经理", "email": f"n{index}@example.cn"}],
            },
        }
        for index in range(start, start + count)
    ]


def test_new_customers_are_written_as_one_batch_with_every_rule(org: Organisation) -> None:
    client = api_client(org.admin)
    records = new_records(30)
    with CaptureQueriesContext(connection) as thirty:
        body = upsert(client, records)
    assert body["counts"] == {"created": 30, "updated": 0, "unchanged": 0, "error": 0}
    customers = Customer.objects.filter(pk__in=[r["object_id"] for r in body["results"]])
    assert customers.count() == 30
    first = customers.get(name=company(0))
    assert first.number
    assert first.owner_id == org.admin.pk
    assert first.industry_id == "I"
    assert first.history.count() == 1
    assert first.history.get().history_change_reason in ("Customer created", "创建客户")
    assert StatusChange.objects.filter(customer=first).count() == 1
    assert sorted(first.tags.values_list("name", flat=True)) == ["ERP", "经销商"]
    contact = Contact.objects.get(customer=first)
    assert contact.email == "n0@example.cn"
    assert contact.is_primary
    assert contact.history.count() == 1
    assert "n0@example.cn" in first.search_text
    assert len({c.number for c in customers}) == 30
    mapping = ExternalId.objects.get(system="kingdee", external_id="N0")
    assert mapping.object_id == first.pk
    assert mapping.seen_version == first.version
    again = upsert(client, records)
    assert again["counts"]["unchanged"] == 30  # the mappings remember the input

    # a fixed number of statements: three times the records, about the same statements
    with CaptureQueriesContext(connection) as ninety:
        body = upsert(client, new_records(90, start=30))
    assert body["counts"]["created"] == 90
    assert len(ninety.captured_queries) <= len(thirty.captured_queries) + 2


def test_special_records_answer_as_the_single_path_does(org: Organisation) -> None:
    client = api_client(org.rep)
    held = customer_services.customer_create(
        actor=org.rep, data={"name": "宁波海曙贸易有限公司", "credit_code": "91330200MA2GXKQ51H"}
    )
    records = [
        {"system": "k", "id": "A", "data": {"name": "温州瓯海电器有限公司"}},
        # a look-alike of an existing customer: 409 duplicate with its match
        {"system": "k", "id": "B", "data": {"name": "宁波海曙贸易有限公司"}},
        # the same phone as an earlier record of the call: created first, then a duplicate
        {
            "system": "k",
            "id": "C",
            "data": {
                "name": "嘉兴南湖纺织有限公司",
                "contacts": [{"name": "李", "mobile": "13812345678"}],
            },
        },
        {
            "system": "k",
            "id": "D",
            "data": {
                "name": "湖州吴兴竹业有限公司",
                "contacts": [{"name": "张", "mobile": "13812345678"}],
            },
        },
        # the same id again: created, then updated
        {"system": "k", "id": "A", "data": {"name": "温州瓯海电器有限公司", "address": "温州"}},
        # two contacts: the single path
        {
            "system": "k",
            "id": "E",
            "data": {
                "name": "绍兴柯桥印染有限公司",
                "contacts": [{"name": "赵"}, {"name": "钱", "is_primary": True}],
            },
        },
        # field errors, as customer_create answers them
        {"system": "k", "id": "F", "data": {"name": "台州椒江模具有限公司", "industry": "ZZ"}},
        {"system": "k", "id": "G", "data": {"name": "金华义乌小商品有限公司", "status": "x"}},
        {
            "system": "k",
            "id": "H",
            "data": {"name": "舟山定海海产有限公司", "owner_id": org.south_rep.pk},
        },
        # a credit code in use (the single path's unique check)
        {
            "system": "k",
            "id": "I",
            "data": {"name": "丽水莲都茶叶有限公司", "credit_code": "91330200MA2GXKQ51H"},
        },
    ]
    results = upsert(client, records)["results"]
    outcome = {(r["index"], r["result"], r["code"]) for r in results}
    assert outcome == {
        (0, "created", None),
        (1, "error", "duplicate"),
        (2, "created", None),
        (3, "error", "duplicate"),
        (4, "updated", None),
        (5, "created", None),
        (6, "error", "invalid"),
        (7, "error", "invalid"),
        (8, "error", "forbidden"),
        (9, "error", "invalid"),
    }, results
    assert "industry" in results[6]["errors"]
    assert "status" in results[7]["errors"]
    assert "credit_code" in results[9]["errors"]
    wenzhou = Customer.objects.get(name="温州瓯海电器有限公司")
    assert wenzhou.address == "温州"
    assert results[0]["object_id"] == results[4]["object_id"] == wenzhou.pk
    shaoxing = Customer.objects.get(name="绍兴柯桥印染有限公司")
    assert shaoxing.contacts.get(is_primary=True).name == "钱"
    assert Customer.objects.count() == 4  # held, A, C, E
    assert held.pk != wenzhou.pk
    assert set(ExternalId.objects.values_list("external_id", flat=True)) == {"A", "C", "E"}


def test_a_merge_moves_the_merged_customers_external_ids(org: Organisation) -> None:
    client = api_client(org.admin)
    body = upsert(
        client,
        [
            {"system": "kingdee", "id": "K1", "data": {"name": "上海甲机械有限公司"}},
            {"system": "kingdee", "id": "K2", "data": {"name": "北京乙软件有限公司"}},
        ],
    )
    survivor_id, merged_id = (r["object_id"] for r in body["results"])
    yonyou = client.put(
        BASE + "/customers/by-external/yonyou/Y2",
        json.dumps({"kehu_id": merged_id}),
        content_type="application/json",
    )
    assert yonyou.status_code == 200, yonyou.content
    customer_services.customer_merge(
        actor=org.admin,
        survivor=Customer.objects.get(pk=survivor_id),
        merged=Customer.objects.get(pk=merged_id),
    )
    # yonyou's id moves; kingdee's K2 is dropped, as the survivor has K1 in that system
    assert set(
        ExternalId.objects.filter(object_id=survivor_id).values_list("system", "external_id")
    ) == {("kingdee", "K1"), ("yonyou", "Y2")}
    assert not ExternalId.objects.filter(object_id=merged_id).exists()
    got = client.get(BASE + "/customers/by-external/yonyou/Y2")
    assert got.status_code == 200
    assert got.json()["customer"]["id"] == survivor_id
    again = client.put(
        BASE + "/customers/by-external/yonyou/Y2",
        json.dumps({"address": "上海市"}),
        content_type="application/json",
    )
    assert again.json()["result"] == "updated"
    assert again.json()["customer"]["id"] == survivor_id
    assert Customer.objects.count() == 1


def test_changed_customers_are_updated_as_one_batch_with_every_rule(org: Organisation) -> None:
    client = api_client(org.admin)
    upsert(client, new_records(60))
    changed = new_records(20)
    for record in changed:
        record["data"]["address"] = "上海市浦东新区"
    changed[1]["data"]["name"] = "大连海纳重工有限公司"  # a new name: the dedup, one by one
    changed[2]["data"]["industry"] = "ZZ"
    changed[3]["data"]["founded_on"] = "not a date"
    changed[4]["data"]["owner_id"] = org.rep.pk  # a reassignment: one by one
    with CaptureQueriesContext(connection) as twenty:
        body = upsert(client, changed)
    results = body["results"]
    errors = [(r["index"], r["code"], r["errors"]) for r in results if r["result"] == "error"]
    assert body["counts"] == {"created": 0, "updated": 18, "unchanged": 0, "error": 2}, errors
    assert "industry" in results[2]["errors"]
    assert "founded_on" in results[3]["errors"]
    first = Customer.objects.get(pk=results[0]["object_id"])
    assert first.address == "上海市浦东新区"
    assert first.version == 2
    assert first.history.count() == 2
    assert first.history.first().history_type == "~"
    assert Customer.objects.get(pk=results[1]["object_id"]).name == "大连海纳重工有限公司"
    assert Customer.objects.get(pk=results[4]["object_id"]).owner_id == org.rep.pk
    n2 = ExternalId.objects.get(system="kingdee", external_id="N2")
    untouched = Customer.objects.get(pk=n2.object_id)
    assert (untouched.version, untouched.address) == (1, "")
    assert upsert(client, changed[5:])["counts"]["unchanged"] == 15

    more = new_records(60)[20:]
    for record in more:
        record["data"]["address"] = "杭州市"
    with CaptureQueriesContext(connection) as forty:
        body = upsert(client, more)
    assert body["counts"]["updated"] == 40
    # twice the records, no more statements (the 20 sent three through the single path)
    assert len(forty.captured_queries) <= len(twenty.captured_queries)


def test_custom_values_are_kept_on_create_and_update_and_checked(org: Organisation) -> None:
    """The batches take custom-field values by the same rules as the single path."""
    from kehu.integrations.services import custom_fields

    custom_fields.custom_field_create(
        actor=org.admin,
        data={
            "kind": "customer",
            "key": "dealer_level",
            "label_zh": "经销商级别",
            "label_en": "Dealer level",
            "type": "choice",
            "choices": ["一级", "二级"],
        },
    )
    client = api_client(org.admin)
    records = new_records(3)
    for record in records:
        record["data"]["custom"] = {"dealer_level": "一级"}
    created = upsert(client, records)
    assert created["counts"]["created"] == 3
    ids = [result["object_id"] for result in created["results"]]
    assert {c.custom["dealer_level"] for c in Customer.objects.filter(pk__in=ids)} == {"一级"}

    records[0]["data"]["custom"] = {"dealer_level": "二级"}
    records[1]["data"]["custom"] = {"dealer_level": "五级"}  # not a choice
    updated = upsert(client, records)
    assert updated["counts"] == {"created": 0, "updated": 1, "unchanged": 1, "error": 1}
    assert Customer.objects.get(pk=ids[0]).custom["dealer_level"] == "二级"
    assert Customer.objects.get(pk=ids[1]).custom["dealer_level"] == "一级"
    refused = updated["results"][1]
    assert "custom.dealer_level" in json.dumps(refused, ensure_ascii=False)


def test_new_customers_contacts_carry_custom_values_in_a_batch(org: Organisation) -> None:
    from kehu.integrations.services import custom_fields

    custom_fields.custom_field_create(
        actor=org.admin,
        data={"kind": "contact", "key": "age", "label_zh": "年龄", "type": "number"},
    )
    records = new_records(3)
    records[0]["data"]["contacts"][0]["custom"] = {"age": 41}
    records[1]["data"]["contacts"][0]["custom"] = {"age": "old"}
    body = upsert(api_client(org.admin), records)
    outcomes = [result["result"] for result in body["results"]]
    assert outcomes == ["created", "error", "created"], body
    assert list(body["results"][1]["errors"]) == ["contacts[0].custom.age"]
    assert Contact.objects.get(email="n0@example.cn").custom == {"age": 41}
    assert Contact.objects.get(email="n2@example.cn").custom == {}
    assert not Contact.objects.filter(email="n1@example.cn").exists()
