"""The bulk upsert's look-alikes (new customers the create batch suspects of duplicating
one): answered inside the batch (``duplicates_in_turn``) with the very answers the single
path gives, the 409 with the same matches and masking, or the customer when the suspicion
was false; a fixed number of queries whatever their number."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from kehu.accounts.models import User
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Customer, StatusChange
from kehu.integrations.api.external import ExternalCustomerIn, plain
from kehu.integrations.models import ExternalId
from kehu.integrations.services import external_ids
from kehu.integrations.tests.test_upsert_batch import company, new_records, upsert
from kehu.integrations.tests.test_upsert_bulk_writes import _difference

pytestmark = pytest.mark.django_db

BASE = "/api/v1"
SOUTH_NAME = "宁波海曙贸易有限公司"
SOUTH_MOBILE = "13900000001"
MINE_NAME = "杭州西湖龙井茶叶贸易有限公司"
MINE_EMAIL = "wu@longjing.cn"
CODE = "91330100MA2AB1234R"


def existing(org: Organisation) -> tuple[Customer, Customer]:
    """A customer of another region (outside the rep's scope: a masked match) and one of
    the rep's own (a visible match)."""
    south = customer_services.customer_create(
        actor=org.south_rep,
        data={"name": SOUTH_NAME},
        contacts=[{"name": "周", "mobile": SOUTH_MOBILE}],
    )
    mine = customer_services.customer_create(
        actor=org.rep, data={"name": MINE_NAME}, contacts=[{"name": "吴", "email": MINE_EMAIL}]
    )
    return south, mine


def record(external_id: str, name: str, **contact: str) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "industry": "I", "tags": ["ERP"]}
    if contact:
        data["contacts"] = [{"name": "联系人", **contact}]
    return {"system": "kingdee", "id": external_id, "data": data}


def mixed() -> list[dict[str, Any]]:
    """Plain new customers, real duplicates of each kind and false suspicions."""
    lookalike = record("L1", SOUTH_NAME, mobile="13700000002")  # name of a masked customer
    lookalike["data"]["credit_code"] = CODE
    clear_code = record("F9", "丽水莲都茶叶有限公司")
    clear_code["data"]["credit_code"] = CODE  # L1's code: suspect, but L1 is not written
    return [
        record("N0", "温州瓯海电器有限公司", email="n0@example.cn"),
        lookalike,
        record("N2", "台州椒江模具有限公司"),
        record("L3", "杭州西湖龙井茶业贸易有限公司"),  # 90 % like the rep's own customer
        record("L4", "嘉兴南湖纺织有限公司", mobile=SOUTH_MOBILE),  # a masked customer's phone
        record("L5", "湖州吴兴竹业有限公司", email=MINE_EMAIL.upper()),  # the rep's, by e-mail
        record("F6", "舟山定海海产有限公司", mobile="13700000002"),  # L1's phone: false alarm
        record("W7", "温州瓯海电器有限公司", email="w7@example.cn"),  # N0 of this call
        record("N8", "金华义乌小商品有限公司"),
        clear_code,
    ]


def snapshot(outcomes: dict[str, tuple[str, int | None, dict[str, Any] | None]]) -> dict[str, Any]:
    """What each record left: its answer (the matches with the call's own customers named
    by their external id, as their ids and numbers differ between two runs) and, for a
    created customer, the rows written."""
    own = {object_id: ref for ref, (_result, object_id, _body) in outcomes.items() if object_id}
    seen: dict[str, Any] = {}
    for ref, (result, object_id, body) in outcomes.items():
        if body is not None:
            body = json.loads(json.dumps(body))
            for match in body.get("matches", ()):
                if match.get("id") in own:
                    match["id"], match["number"] = own[match["id"]], None
        created = None
        if object_id is not None:
            customer = Customer.objects.get(pk=object_id)
            history = customer.history.get()
            mapping = ExternalId.objects.get(kind="customer", object_id=object_id)
            change = StatusChange.objects.get(customer=customer)
            created = {
                **{
                    name: getattr(customer, name)
                    for name in (
                        "name",
                        "owner_id",
                        "department_id",
                        "created_by_id",
                        "status",
                        "industry_id",
                        "region_id",
                        "credit_code",
                        "grade",
                        "name_key",
                        "version",
                        "custom",
                    )
                },
                "contacts": sorted(
                    customer.contacts.values_list("name", "mobile", "email", "is_primary")
                ),
                "contact history": sorted(
                    customer.contacts.model.history.filter(customer_id=object_id).values_list(
                        "history_type", "history_user_id"
                    )
                ),
                "tags": sorted(customer.tags.values_list("name", flat=True)),
                "history": (
                    history.history_type,
                    history.history_user_id,
                    history.history_change_reason,
                ),
                "status change": (change.old_status, change.new_status, change.reason),
                "mapping": (mapping.system, mapping.external_id, mapping.seen_version),
                "fingerprint": mapping.fingerprint,
            }
        seen[ref] = (result, body, created)
    return seen


class Rollback(Exception):
    pass


def in_batch(actor: User, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The batch's answers and rows, rolled back afterwards."""
    result: dict[str, Any] = {}
    try:
        with transaction.atomic():
            outcomes = external_ids.upsert_many(
                actor=actor,
                kind="customer",
                records=records,
                schema=plain(ExternalCustomerIn),
            )
            result.update(
                snapshot(
                    {
                        o.external_id: (
                            o.result,
                            o.object_id,
                            o.error.payload() if o.error is not None else None,
                        )
                        for o in outcomes
                    }
                )
            )
            raise Rollback
    except Rollback:
        pass
    return result


def one_by_one(client: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    answers: dict[str, tuple[str, int | None, dict[str, Any] | None]] = {}
    for item in records:
        answer = client.put(
            f"{BASE}/customers/by-external/{item['system']}/{item['id']}",
            json.dumps(item["data"], ensure_ascii=False),
            content_type="application/json",
        )
        body = answer.json()
        if answer.status_code == 201:
            answers[item["id"]] = ("created", body["customer"]["id"], None)
        else:
            answers[item["id"]] = ("error", None, body)
    return snapshot(answers)


def test_lookalikes_answer_as_records_sent_one_by_one(org: Organisation) -> None:
    south, mine = existing(org)
    records = mixed()
    batch = in_batch(org.rep, records)
    assert not ExternalId.objects.exists()  # rolled back
    single = one_by_one(api_client(org.rep), records)
    assert batch == single
    answers = {ref: result for ref, (result, _body, _rows) in batch.items()}
    assert answers == {
        "N0": "created",
        "L1": "error",
        "N2": "created",
        "L3": "error",
        "L4": "error",
        "L5": "error",
        "F6": "created",
        "W7": "error",
        "N8": "created",
        "F9": "created",
    }
    l1 = batch["L1"][1]
    assert l1["code"] == "duplicate"
    assert l1["matches"] == [
        {
            "reason": "name",
            "score": 100.0,
            "owner_id": org.south_rep.pk,
            "owner_name": str(org.south_rep),
            "visible": False,
        }
    ]
    assert [(m["reason"], m["score"], m["id"]) for m in batch["L3"][1]["matches"]] == [
        ("name", 90.0, mine.pk)
    ]
    assert [(m["reason"], m["visible"]) for m in batch["L4"][1]["matches"]] == [("phone", False)]
    assert [(m["reason"], m["id"]) for m in batch["L5"][1]["matches"]] == [("email", mine.pk)]
    assert [(m["reason"], m["id"]) for m in batch["W7"][1]["matches"]] == [("name", "N0")]
    masked = [*batch["L1"][1]["matches"], *batch["L4"][1]["matches"]]
    assert not any("id" in match or "number" in match for match in masked)
    assert south.pk not in {m.get("id") for ref in ("L3", "L5") for m in batch[ref][1]["matches"]}


def test_the_answers_reach_the_api_as_the_puts_do(org: Organisation) -> None:
    existing(org)
    records = mixed()
    with transaction.atomic():
        body = upsert(api_client(org.rep), records)
        transaction.set_rollback(True)
    results = {r["id"]: r for r in body["results"]}
    client = api_client(org.rep)
    for item in records:
        answer = client.put(
            f"{BASE}/customers/by-external/kingdee/{item['id']}",
            json.dumps(item["data"], ensure_ascii=False),
            content_type="application/json",
        )
        result = results[item["id"]]
        if answer.status_code == 201:
            assert result["result"] == "created", result
        else:
            assert answer.status_code == 409
            assert (result["result"], result["code"], result["detail"], result["errors"]) == (
                "error",
                answer.json()["code"],
                answer.json()["detail"],
                None,
            )
    assert body["counts"] == {"created": 5, "updated": 0, "unchanged": 0, "error": 5}


def with_lookalikes(count: int, start: int) -> list[dict[str, Any]]:
    """``count`` new customers, four look-alikes in every ten: a masked customer's name, 90 %
    of the rep's own, a false alarm (the phone of the first, which is refused) and the name
    of the ten's first record."""
    records = new_records(count, start=start)
    for first in range(0, count, 10):
        mobile = f"137{start + first:08d}"
        records[first + 1]["data"]["name"] = SOUTH_NAME
        records[first + 1]["data"]["contacts"][0]["mobile"] = mobile
        records[first + 3]["data"]["name"] = "杭州西湖龙井茶业贸易有限公司"
        records[first + 5]["data"]["contacts"][0]["mobile"] = mobile
        records[first + 7]["data"]["name"] = company(start + first)
    return records


def test_lookalikes_take_a_fixed_number_of_queries(org: Organisation) -> None:
    existing(org)
    client = api_client(org.admin)
    upsert(client, with_lookalikes(10, 500))  # warm-up: settings, reference rows
    with CaptureQueriesContext(connection) as ten:
        body = upsert(client, with_lookalikes(10, 100))
    assert body["counts"] == {"created": 7, "updated": 0, "unchanged": 0, "error": 3}, body
    with CaptureQueriesContext(connection) as hundred:
        body = upsert(client, with_lookalikes(100, 200))
    assert body["counts"] == {"created": 70, "updated": 0, "unchanged": 0, "error": 30}, body
    assert len(hundred.captured_queries) == len(ten.captured_queries), _difference(ten, hundred)


def test_lookalikes_of_records_of_the_same_call_answer_as_before(org: Organisation) -> None:
    south, _mine = existing(org)
    client = api_client(org.rep)
    records = [
        # a false alarm (L1's phone; L1 is refused), then a record like it: it waits for the
        # false alarm's customer, which the single create then finds
        record("L1", SOUTH_NAME, mobile="13700000003"),
        record("F2", "舟山定海海产有限公司", mobile="13700000003"),
        record("W3", "舟山定海海产有限公司", email="w3@example.cn"),
        # left to the single path (two contacts): the records after it go one by one too
        {
            "system": "kingdee",
            "id": "T4",
            "data": {
                "name": "绍兴柯桥印染有限公司",
                "contacts": [{"name": "赵"}, {"name": "钱", "email": "q@keqiao.cn"}],
            },
        },
        record("L5", SOUTH_NAME),
        record("N6", "绍兴柯桥印染有限公司"),  # written by the batch, before T4: T4 is refused
    ]
    body = upsert(client, records)
    results = {r["id"]: r for r in body["results"]}
    outcome = {ref: (r["result"], r["code"]) for ref, r in results.items()}
    assert outcome == {
        "L1": ("error", "duplicate"),
        "F2": ("created", None),
        "W3": ("error", "duplicate"),
        "T4": ("error", "duplicate"),
        "L5": ("error", "duplicate"),
        "N6": ("created", None),
    }
    f2 = Customer.objects.get(pk=results["F2"]["object_id"])
    assert f2.contacts.get().mobile.endswith("13700000003")
    assert Customer.objects.filter(name="舟山定海海产有限公司").count() == 1
    assert not Customer.objects.filter(name=SOUTH_NAME).exclude(pk=south.pk).exists()
    assert set(ExternalId.objects.values_list("external_id", flat=True)) == {"F2", "N6"}
