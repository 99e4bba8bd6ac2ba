"""/api/v1/targets: CRUD with its 422s, 404s and the 409 of a stale version, progress, and
the "targets" report (JSON and XLSX)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from openpyxl import load_workbook

from kehu.analytics.tests.targets_support import customer, target, won_deal
from kehu.core.testing.factories import Organisation, api_client

pytestmark = pytest.mark.django_db

API = "/api/v1"


def post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(API + path, json.dumps(body), content_type="application/json")


def patch(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.patch(API + path, json.dumps(body), content_type="application/json")


BODY = {
    "name": "本季度新增30家制造业中小企业",
    "period_kind": "quarter",
    "start": "2026-11-15",
    "measure": "new_customers",
    "value": 30,
    "industry": "C",
    "size_bands": ["lt50", "50-300"],
}


def test_create_read_update_delete(org: Organisation) -> None:
    client = api_client(org.east_manager)
    answer = post(client, "/targets", {**BODY, "department": org.east.pk})
    assert answer.status_code == 201, answer.content
    made = answer.json()
    assert (made["start"], made["end"]) == ("2026-10-01", "2026-12-31")
    assert made["scope_label"] == "华东区"
    part = post(
        client,
        "/targets",
        {**BODY, "name": "其中华东区20家", "department": org.east.pk, "region": "east",
         "value": 20, "parent": made["id"]},
    )  # fmt: skip
    assert part.status_code == 201, part.content
    assert part.json()["parent_id"] == made["id"]

    listed = client.get(API + "/targets", {"from": "2026-10-01", "to": "2026-12-31"})
    assert [row["id"] for row in listed.json()] == [made["id"], part.json()["id"]]
    assert client.get(API + f"/targets/{made['id']}").json()["value"] == 30

    changed = patch(client, f"/targets/{made['id']}", {"version": made["version"], "value": 35})
    assert changed.status_code == 200, changed.content
    assert changed.json()["value"] == 35
    assert changed.json()["version"] == made["version"] + 1

    assert client.delete(API + f"/targets/{made['id']}").status_code == 204
    assert client.get(API + f"/targets/{made['id']}").status_code == 404
    assert client.get(API + f"/targets/{part.json()['id']}").status_code == 404


def test_stale_version_is_409(org: Organisation) -> None:
    client = api_client(org.east_manager)
    made = post(client, "/targets", {**BODY, "department": org.east.pk}).json()
    assert patch(client, f"/targets/{made['id']}", {"version": made["version"], "value": 31})
    stale = patch(client, f"/targets/{made['id']}", {"version": made["version"], "value": 32})
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert stale.json()["current_version"] == made["version"] + 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"period_kind": "custom", "start": "2026-10-01", "end": "2026-09-30"}, "end"),
        ({"period_kind": "custom", "start": "2020-01-01", "end": "2026-12-31"}, "end"),
        ({"value": 0}, "value"),
        ({"value": -3}, "value"),
        ({"value": "many"}, "value"),
        ({"value": 2.5}, "value"),
        ({"industry": "ZZ"}, "industry"),
        ({"region": "atlantis"}, "region"),
    ],
)
def test_bad_input_is_422_with_field_errors(
    org: Organisation, change: dict[str, Any], field: str
) -> None:
    answer = post(
        api_client(org.east_manager), "/targets", {**BODY, "department": org.east.pk, **change}
    )
    assert answer.status_code == 422, answer.content
    assert field in answer.json()["errors"]


@pytest.mark.parametrize(
    "change",
    [{"measure": "joy"}, {"period_kind": "week"}, {"start": "2026-13-01"}, {"size_bands": ["x"]}],
)
def test_malformed_fields_are_422_not_500(org: Organisation, change: dict[str, Any]) -> None:
    answer = post(
        api_client(org.east_manager), "/targets", {**BODY, "department": org.east.pk, **change}
    )
    assert answer.status_code == 422, answer.content


def test_overlap_is_422_naming_the_other(org: Organisation) -> None:
    client = api_client(org.east_manager)
    first = post(client, "/targets", {**BODY, "department": org.east.pk})
    assert first.status_code == 201
    again = post(
        client,
        "/targets",
        {**BODY, "name": "11月", "period_kind": "month", "department": org.east.pk},
    )
    assert again.status_code == 422
    assert BODY["name"] in again.json()["detail"]
    assert again.json()["overlaps"] == first.json()["id"]


def test_department_or_rep_outside_scope_is_404(org: Organisation) -> None:
    client = api_client(org.east_manager)
    assert post(client, "/targets", {**BODY, "department": org.south.pk}).status_code == 404
    assert post(client, "/targets", {**BODY, "owner": org.south_rep.pk}).status_code == 404
    rep = api_client(org.rep)
    assert post(rep, "/targets", {**BODY, "owner": org.rep.pk}).status_code == 403
    assert rep.get(API + "/targets", {"department": org.south.pk}).status_code == 404
    assert rep.get(API + "/targets", {"from": "2020-01-01", "to": "2026-12-31"}).status_code == 422


def test_progress_and_report(org: Organisation) -> None:
    made = target(org.east_manager, owner=org.rep.pk, measure="won_amount", value=200000)
    counted = target(org.east_manager, owner=org.rep.pk, value=4)
    won_deal(org.rep, customer(org.rep), amount="50000")
    client = api_client(org.east_manager)
    one = client.get(API + f"/targets/{made.pk}/progress").json()
    assert (one["actual"], one["attainment_pct"], one["gap"]) == (50000.0, 25.0, 150000.0)
    rows = client.get(API + "/targets/progress", {"from": "2026-10-01", "to": "2026-12-31"}).json()
    assert {row["id"]: row["actual"] for row in rows} == {made.pk: 50000.0, counted.pk: 1.0}

    report = client.get(API + "/reports/targets", {"from": "2026-10-01", "to": "2026-12-31"})
    assert report.status_code == 200, report.content
    body = report.json()
    summary = {item["key"]: item["value"] for item in body["summary"]}
    assert summary == {"targets": 2, "met": 0, "attainment_pct": 25.0}
    table = body["tables"][0]
    assert [row["attainment_pct"] for row in table["rows"]] == [25.0, 25.0]
    assert {chart["key"] for chart in body["charts"]} >= {"attainment", "target-vs-actual"}

    empty = client.get(API + "/reports/targets", {"from": "2020-01-01", "to": "2020-03-31"})
    assert empty.status_code == 200
    assert empty.json()["tables"][0]["rows"] == []

    xlsx = client.get(API + "/reports/targets/export", {"from": "2026-10-01", "to": "2026-12-31"})
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    cells = [
        str(cell.value)
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None
    ]
    assert any("50000" in cell for cell in cells)
    assert any("25" in cell for cell in cells)


def test_report_hides_other_departments(org: Organisation) -> None:
    target(org.south_manager, department=org.south.pk)
    east = target(org.east_manager, department=org.east.pk)
    client = api_client(org.east_manager)
    params = {"from": "2026-10-01", "to": "2026-12-31"}
    rows = client.get(API + "/reports/targets", params).json()["tables"][0]["rows"]
    assert [row["name"] for row in rows] == [str(east)]
    outside = client.get(API + "/reports/targets", {**params, "department": org.south.pk})
    assert outside.status_code == 404
