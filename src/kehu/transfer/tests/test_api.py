"""/api/v1/imports and /api/v1/exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from kehu.core import config
from kehu.core.testing.factories import api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.transfer.models import ExportLog, ImportMapping
from kehu.transfer.tests.helpers import customer_rows, write_csv

pytestmark = pytest.mark.django_db


def _upload(client: Client, path: Path, **extra: Any) -> Any:
    with path.open("rb") as handle:
        return client.post("/api/v1/imports", {"file": handle, "kind": "customers", **extra})


def test_upload_checks_then_imports(org: Any, tmp_path: Path) -> None:
    client = api_client(org.admin)
    response = _upload(client, write_csv(tmp_path / "a.csv", customer_rows(4)))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "checked"
    assert body["counts"]["new"] == 4
    assert Customer.objects.count() == 0
    job_id = body["id"]
    response = client.post(
        f"/api/v1/imports/{job_id}/run", json.dumps({"dry_run": False}), "application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "done"
    assert response.json()["report"]["overall"] == 100.0
    assert Customer.objects.count() == 4
    listed = client.get("/api/v1/imports").json()
    assert listed["count"] == 1


def test_imports_of_others_answer_404(org: Any, tmp_path: Path) -> None:
    response = _upload(api_client(org.admin), write_csv(tmp_path / "a.csv", customer_rows(1)))
    job_id = response.json()["id"]
    assert api_client(org.east_manager).get(f"/api/v1/imports/{job_id}").status_code == 404


def test_sales_get_403_on_upload(org: Any, tmp_path: Path) -> None:
    response = _upload(api_client(org.rep), write_csv(tmp_path / "a.csv", customer_rows(1)))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_bad_files_answer_422_and_write_nothing(org: Any, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    response = _upload(api_client(org.admin), path)
    assert response.status_code == 422
    assert response.json()["code"] == "empty_file"
    response = _upload(api_client(org.admin), tmp_path / "a.csv" if False else path, mapping="{x")
    assert response.status_code == 422
    assert Customer.objects.count() == 0


def test_patch_mapping_and_decisions(org: Any, tmp_path: Path) -> None:
    client = api_client(org.admin)
    path = write_csv(tmp_path / "a.csv", customer_rows(2))
    job_id = _upload(client, path).json()["id"]
    bad = client.patch(
        f"/api/v1/imports/{job_id}",
        json.dumps({"mapping": {"客户名称": "nonsense"}}),
        "application/json",
    )
    assert bad.status_code == 422
    assert "客户名称" in bad.json()["errors"]
    good = client.patch(
        f"/api/v1/imports/{job_id}",
        json.dumps({"mapping": {"邮箱": ""}, "row_decisions": {"3": "create"}}),
        "application/json",
    )
    assert good.status_code == 200
    assert good.json()["mapping"]["邮箱"] == ""
    assert good.json()["row_decisions"] == {"3": "create"}


def test_saved_mapping_round_trip(org: Any) -> None:
    client = api_client(org.admin)
    response = client.post(
        "/api/v1/imports/mappings",
        json.dumps({"name": "旧CRM", "columns": {"公司": "name", "电话号码": "contact_mobile"}}),
        "application/json",
    )
    assert response.status_code == 201
    assert ImportMapping.objects.get(name="旧CRM").columns["公司"] == "name"
    assert client.get("/api/v1/imports/mappings").json()[0]["name"] == "旧CRM"


def test_template_has_headers_dropdowns_and_example(org: Any) -> None:
    response = api_client(org.rep).get("/api/v1/imports/templates/customers.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    data = workbook.worksheets[0]
    headers = [cell.value for cell in data[1]]
    assert headers[0] == "客户名称 / Customer name *"
    assert "信息来源 / Source" in headers
    formulas = {dv.formula1 for dv in data.data_validations.dataValidation}
    assert any("Lists!" in formula for formula in formulas)
    example = workbook["示例 Example"]
    assert example.cell(row=2, column=1).value == "上海华瑞精密机械有限公司"


def _customers(org: Any) -> list[Customer]:
    first = customer_services.customer_create(
        actor=org.rep,
        data={"name": '=HYPERLINK("http://evil.example","x")', "annual_budget": "300000"},
        contacts=[{"name": "王伟", "mobile": "13812345678"}],
        force=True,
    )
    second = customer_services.customer_create(
        actor=org.south_rep,
        data={"name": "华南贸易有限公司", "status": "intent", "annual_budget": "50000"},
    )
    return [first, second]


def _csv(response: Any) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_admin_exports_csv_with_bom_escaping_and_log(org: Any) -> None:
    _customers(org)
    response = api_client(org.admin).get("/api/v1/exports/customers?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert rows[0][1] == "客户名称 / Customer name"
    names = {row[1] for row in rows[1:]}
    assert '\'=HYPERLINK("http://evil.example","x")' in names
    mobile_column = rows[0].index("手机 / Mobile")
    assert "138 1234 5678" in {row[mobile_column] for row in rows[1:]}
    log = ExportLog.objects.get()
    assert log.user == org.admin
    assert log.row_count == 2
    assert log.channel == "api"


def test_export_respects_filters(org: Any) -> None:
    _customers(org)
    response = api_client(org.admin).get("/api/v1/exports/customers?status=intent")
    rows = _csv(response)
    assert [row[1] for row in rows[1:]] == ["华南贸易有限公司"]
    assert ExportLog.objects.get().filters == {"status": "intent"}


def test_roles_without_export_permission_get_403(org: Any) -> None:
    for user in (org.rep, org.east_manager, org.marketing):
        response = api_client(user).get("/api/v1/exports/customers")
        assert response.status_code == 403
    assert ExportLog.objects.count() == 0


def test_scope_and_masking_apply_to_exports(org: Any) -> None:
    _customers(org)
    config.put("transfer.export_roles", ["admin", "manager", "marketing"])
    rows = _csv(api_client(org.east_manager).get("/api/v1/exports/customers"))
    assert len(rows) == 2  # the manager of 华东 sees only their department's customer
    rows = _csv(api_client(org.marketing).get("/api/v1/exports/customers"))
    budget = rows[0].index("年度预算(元) / Annual budget")
    assert len(rows) == 3
    assert {row[budget] for row in rows[1:]} == {"***"}


def test_xlsx_export_is_write_only_and_escaped(org: Any) -> None:
    _customers(org)
    response = api_client(org.admin).get("/api/v1/exports/contacts?format=xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "客户编号 / Customer number"
    assert rows[1][1] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[1][4] == "138 1234 5678"


def test_export_memory_is_bounded_by_chunks(org: Any, django_assert_max_num_queries: Any) -> None:
    _customers(org)
    from kehu.customers.selectors import CustomerFilters
    from kehu.transfer.exporting import Export

    export = Export(user=org.admin, kind="customers", filters=CustomerFilters(), channel="cli")
    with django_assert_max_num_queries(11):  # 8, and the audit entry (head, entry, head)
        chunks = list(export.csv_chunks())
    assert export.count == 2
    assert len(chunks) >= 2


def test_other_kinds_upload_check_and_import(org: Any, tmp_path: Path) -> None:
    """`kind` on create: a leads file is checked, imported; a bad follow-up row answers with
    line and column and writes nothing; templates and fields exist per kind."""
    from kehu.followups.models import FollowUp
    from kehu.leads.models import Lead

    client = api_client(org.admin)
    leads = write_csv(
        tmp_path / "leads.csv",
        [["甲公司", "张三", "13711112222", "展会"], ["乙公司", "李四", "13711113333", "推荐"]],
        headers=["线索名称", "联系人", "手机", "来源"],
    )
    with leads.open("rb") as handle:
        response = client.post("/api/v1/imports", {"file": handle, "kind": "leads"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "leads"
    assert body["counts"]["new"] == 2
    assert body["mapping"]["来源"] == "source"
    response = client.post(
        f"/api/v1/imports/{body['id']}/run", json.dumps({"dry_run": False}), "application/json"
    )
    assert response.json()["status"] == "done"
    assert response.json()["report"]["overall"] == 100.0
    assert set(Lead.objects.values_list("source", flat=True)) == {"trade_show", "referral"}
    followups = write_csv(
        tmp_path / "f.csv",
        [["无此客户", "2024年5月20日", "电话", "介绍"]],
        headers=["客户", "跟进时间", "跟进方式", "跟进内容"],
    )
    with followups.open("rb") as handle:
        response = client.post(
            "/api/v1/imports", {"file": handle, "kind": "followups", "dry_run": "false"}
        )
    body = response.json()
    assert body["status"] == "done"
    assert body["counts"]["invalid"] == 1
    assert body["errors"][0]["line"] == 2
    assert body["errors"][0]["column"] == "客户"
    assert FollowUp.objects.count() == 0
    with followups.open("rb") as handle:
        response = client.post("/api/v1/imports", {"file": handle, "kind": "calls"})
    assert response.status_code == 422
    assert "kind" in response.json()["errors"]
    fields = client.get("/api/v1/imports/fields/opportunities").json()
    assert {"key": "stage", "zh": "阶段"}.items() <= fields[2].items()
    template = client.get("/api/v1/imports/templates/opportunities.xlsx")
    workbook = load_workbook(io.BytesIO(template.content))
    data = workbook.worksheets[0]
    assert data["A1"].value == "商机名称 / Opportunity name *"
    stage_list = [c.value for c in workbook["Lists"]["C"] if c.value]
    assert stage_list == ["初步接触", "需求分析", "方案提交", "谈判签约", "成交", "回款/复购"]
    assert any("C2" in str(v.sqref) for v in data.data_validations.dataValidation)
    response = client.post(
        "/api/v1/imports/mappings",
        json.dumps({"name": "旧系统跟进", "kind": "followups", "columns": {"日期": "occurred_at"}}),
        "application/json",
    )
    assert response.status_code == 201
    assert ImportMapping.objects.get(name="旧系统跟进").kind == "followups"


def test_xlsx_export_keeps_amounts_as_grouped_numbers(org: Any) -> None:
    _customers(org)
    response = api_client(org.admin).get("/api/v1/exports/customers?format=xlsx")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    column = headers.index("年度预算(元) / Annual budget") + 1
    cells = [sheet.cell(row=row, column=column) for row in range(2, sheet.max_row + 1)]
    budgets = {cell.value: cell.number_format for cell in cells if cell.value is not None}
    assert budgets == {300000: "#,##0", 50000: "#,##0"}  # numbers, not "¥300,000" text
