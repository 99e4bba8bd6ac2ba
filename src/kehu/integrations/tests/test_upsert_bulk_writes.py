"""The bulk upsert's writers: changed customers in one UPDATE with their history rows, a
fixed number of queries per batch, nothing half-written for a refused record, and the same
422 answers as the single path for bad values."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core import events
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Customer
from kehu.integrations.models import ExternalId
from kehu.integrations.tests.test_upsert_batch import new_records, upsert

pytestmark = pytest.mark.django_db

BASE = "/api/v1"


def changed(count: int, note: str) -> list[dict[str, Any]]:
    records = new_records(count)
    for record in records:
        record["data"]["notes"] = note
        record["data"]["address"] = "上海市浦东新区" + note
    return records


def _difference(one: CaptureQueriesContext, other: CaptureQueriesContext) -> list[str]:
    def shape(query: dict[str, str]) -> str:
        return re.sub(r"\d+", "N", query["sql"])[:70]

    left = Counter(shape(q) for q in one.captured_queries)
    right = Counter(shape(q) for q in other.captured_queries)
    return [*(left - right), "vs", *(right - left)]


def test_an_update_batch_takes_a_fixed_number_of_queries(org: Organisation) -> None:
    client = api_client(org.admin)
    upsert(client, new_records(100))
    # warm-up (settings read once), and every row's derived keys moved once: one UPDATE per
    # set of changed columns, so both batches below change the same columns
    upsert(client, changed(100, "一"))
    with CaptureQueriesContext(connection) as ten:
        body = upsert(client, changed(10, "二"))
    assert body["counts"]["updated"] == 10
    with CaptureQueriesContext(connection) as hundred:
        body = upsert(client, changed(100, "三"))
    assert body["counts"] == {"created": 0, "updated": 100, "unchanged": 0, "error": 0}
    assert len(hundred.captured_queries) == len(ten.captured_queries), _difference(ten, hundred)
    assert len(hundred.captured_queries) <= 20, [q["sql"][:80] for q in hundred.captured_queries]


def test_changed_rows_and_their_history_are_written_as_the_single_path_writes_them(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    client = api_client(org.admin)
    created = upsert(client, new_records(3))
    ids = [result["object_id"] for result in created["results"]]
    told: list[list[events.Event]] = []
    events.on_events(told.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            body = upsert(client, changed(2, "批量"))
    finally:
        events._listeners.remove(told.append)
    assert body["counts"]["updated"] == 2
    # the same change through the single path (PUT) on the third customer
    answer = client.put(
        BASE + "/customers/by-external/kingdee/N2",
        json.dumps(changed(3, "批量")[2]["data"], ensure_ascii=False),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    rows = {row.pk: row for row in Customer.objects.filter(pk__in=ids)}
    single = rows[ids[2]]
    for pk in ids[:2]:
        row = rows[pk]
        assert (row.notes, row.address, row.version) == ("批量", "上海市浦东新区批量", 2)
        assert row.name_key
        assert row.search_text
        assert row.updated_at >= row.created_at
        batch_history = row.history.order_by("-history_id")[0]
        single_history = single.history.order_by("-history_id")[0]
        assert batch_history.history_type == single_history.history_type == "~"
        assert batch_history.history_user_id == single_history.history_user_id == org.admin.pk
        assert batch_history.history_change_reason in (None, "")
        assert batch_history.version == row.version
        assert (batch_history.notes, batch_history.address) == (row.notes, row.address)
        assert bool(batch_history.request_id) == bool(single_history.request_id)
        assert row.history.count() == 2
        mapping = ExternalId.objects.get(kind="customer", object_id=pk)
        assert mapping.seen_version == 2
        assert mapping.fingerprint
    updates = [e for batch in told for e in batch if e.name == "customer.updated"]
    assert sorted(e.instance_id for e in updates) == sorted(ids[:2])
    assert {tuple(e.data["fields"]) for e in updates} == {("address", "notes")}
    assert upsert(client, changed(2, "批量"))["counts"]["unchanged"] == 2


def test_a_refused_record_leaves_nothing_and_the_others_are_written(org: Organisation) -> None:
    client = api_client(org.admin)
    upsert(client, new_records(4))
    before = {c.pk: (c.version, c.notes, c.history.count()) for c in Customer.objects.all()}
    records = changed(4, "改")
    records[1]["data"]["website"] = "not a url"
    records[2]["data"]["name"] = "名" * 250
    records[3]["data"]["initial_need"] = "长" * 5001
    body = upsert(client, records)
    results = body["results"]
    assert [r["result"] for r in results] == ["updated", "error", "error", "error"]
    for index in (1, 2, 3):
        pk = ExternalId.objects.get(external_id=f"N{index}").object_id
        assert (
            Customer.objects.get(pk=pk).version,
            Customer.objects.get(pk=pk).notes,
            Customer.objects.get(pk=pk).history.count(),
        ) == before[pk]
        assert ExternalId.objects.get(external_id=f"N{index}").seen_version == 1
    written = Customer.objects.get(pk=results[0]["object_id"])
    assert (written.version, written.notes) == (2, "改")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("website", "not a url"),
        ("name", "名" * 250),
        ("initial_need", "长" * 5001),
        ("founded_on", "not a date"),
        ("employees_band", "x" * 30),
        ("priority", "Q"),
        ("to_verify", ["kind"]),
    ],
)
def test_bad_values_answer_as_the_single_path(org: Organisation, field: str, value: Any) -> None:
    """The same 422 from the batches (update and create) as from the single path (PUT)."""
    client = api_client(org.admin)
    upsert(client, new_records(2))
    bad = new_records(3)
    for record in bad:
        record["data"][field] = value
    bad[2]["id"] = "NEW"  # a new customer: the create batch
    bad[2]["data"]["name"] = value if field == "name" else "温州瓯海电器有限公司"
    body = upsert(client, bad)
    single = client.put(
        BASE + "/customers/by-external/kingdee/N1",
        json.dumps(bad[1]["data"], ensure_ascii=False),
        content_type="application/json",
    )
    new_single = client.put(
        BASE + "/customers/by-external/kingdee/NEW2",
        json.dumps(bad[2]["data"], ensure_ascii=False),
        content_type="application/json",
    )
    assert single.status_code == new_single.status_code == 422, single.content
    results = body["results"]
    assert [r["result"] for r in results] == ["error"] * 3, results
    assert results[0]["errors"] == single.json()["errors"]
    assert results[2]["errors"] == new_single.json()["errors"]


def test_a_bad_contact_of_a_new_customer_answers_as_the_single_path(org: Organisation) -> None:
    client = api_client(org.admin)
    records = new_records(3)
    records[0]["data"]["contacts"][0]["title"] = "总" * 200
    records[1]["data"]["contacts"][0]["email"] = "not an address"
    records[2]["data"]["contacts"][0]["gender"] = "x"
    body = upsert(client, records)
    for index, record in enumerate(records):
        single = client.put(
            BASE + f"/customers/by-external/kingdee/S{index}",
            json.dumps(record["data"], ensure_ascii=False),
            content_type="application/json",
        )
        assert single.status_code == 422, single.content
        result = body["results"][index]
        assert result["result"] == "error"
        assert (result["errors"], result["detail"]) == (
            single.json()["errors"],
            single.json()["detail"],
        )
    assert Customer.objects.count() == 0
