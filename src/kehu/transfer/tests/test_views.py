"""The import / export pages."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from kehu.customers.models import Customer
from kehu.transfer.models import ExportLog, ImportJob
from kehu.transfer.tests.helpers import customer_rows, write_csv

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_home_for_admin_and_for_sales(org: Any) -> None:
    page = _client(org.admin).get("/transfer/")
    assert page.status_code == 200
    assert b'id="upload-form"' in page.content
    assert b'id="export-form"' in page.content
    page = _client(org.rep).get("/transfer/")
    assert b'id="upload-form"' not in page.content
    assert b'id="export-form"' not in page.content


def test_menu_entry_appears(org: Any) -> None:
    page = _client(org.admin).get("/transfer/")
    assert b'href="/transfer/"' in page.content


def test_upload_check_map_and_import(org: Any, tmp_path: Path) -> None:
    client = _client(org.admin)
    path = write_csv(tmp_path / "a.csv", customer_rows(3))
    with path.open("rb") as handle:
        response = client.post(
            "/transfer/upload/", {"file": handle, "kind": "customers", "on_duplicate": "skip"}
        )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/transfer/imports/{job.pk}/"
    page = client.get(f"/transfer/imports/{job.pk}/")
    assert b'id="count-new">3<' in page.content
    assert b'id="options-form"' in page.content
    # drop the email column through the mapping form, then import
    form = {"on_duplicate": "skip", "encoding": ""}
    for index, header in enumerate(job.detected["headers"]):
        form[f"col_{index}"] = "" if header == "邮箱" else job.mapping[header]
    assert client.post(f"/transfer/imports/{job.pk}/options/", form).status_code == 302
    job.refresh_from_db()
    assert job.mapping["邮箱"] == ""
    response = client.post(f"/transfer/imports/{job.pk}/run/", {"dry_run": "0"})
    assert response.status_code == 302
    assert Customer.objects.count() == 3
    assert not Customer.objects.filter(contacts__email__contains="@").exists()
    page = client.get(f"/transfer/imports/{job.pk}/")
    assert b'id="overall-completeness"' in page.content
    progress = client.get(f"/transfer/imports/{job.pk}/progress/?running=1")
    assert progress["HX-Refresh"] == "true"


def test_bad_upload_shows_the_problem(org: Any, tmp_path: Path) -> None:
    org.admin.language = "en"
    org.admin.save()
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    with path.open("rb") as handle:
        response = _client(org.admin).post(
            "/transfer/upload/", {"file": handle, "kind": "customers", "on_duplicate": "skip"}
        )
    assert response.status_code == 422
    assert "The file is not a spreadsheet" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_other_users_jobs_are_404(org: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", customer_rows(1))
    with path.open("rb") as handle:
        _client(org.admin).post(
            "/transfer/upload/", {"file": handle, "kind": "customers", "on_duplicate": "skip"}
        )
    job = ImportJob.objects.get()
    assert _client(org.east_manager).get(f"/transfer/imports/{job.pk}/").status_code == 404


def test_sales_cannot_upload_or_export(org: Any, tmp_path: Path) -> None:
    client = _client(org.rep)
    path = write_csv(tmp_path / "a.csv", customer_rows(1))
    with path.open("rb") as handle:
        response = client.post("/transfer/upload/", {"file": handle, "kind": "customers"})
    assert response.status_code == 403
    assert client.get("/transfer/export/?kind=customers&format=csv").status_code == 403
    assert ExportLog.objects.count() == 0


def test_export_download_from_the_page(org: Any) -> None:
    response = _client(org.admin).get("/transfer/export/?kind=customers&format=xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert ExportLog.objects.get().channel == "web"


def test_template_download(org: Any) -> None:
    response = _client(org.rep).get("/transfer/templates/customers.xlsx")
    assert response.status_code == 200
    assert response.content.startswith(b"PK")


def test_kind_chooser_templates_and_duplicates_of_leads(org: Any, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from kehu.leads.models import Lead

    client = _client(org.admin)
    page = client.get("/transfer/")
    for kind in ("customers", "leads", "opportunities", "followups"):
        assert f'id="template-{kind}"'.encode() in page.content
        assert f'<option value="{kind}"'.encode() in page.content
    template = client.get("/transfer/templates/leads.xlsx")
    assert template.status_code == 200
    workbook = load_workbook(io.BytesIO(template.content))
    headers = [cell.value for cell in workbook.worksheets[0][1]]
    assert headers[:2] == ["线索名称 / Lead name", "联系人 / Contact name *"]
    assert workbook["示例 Example"]["B2"].value == "李娜"
    rows = [["甲公司", "张三", "13711112222", "展会"], ["甲公司", "张三", "13711112222", "展会"]]
    path = write_csv(tmp_path / "a.csv", rows, headers=["线索名称", "联系人", "手机", "来源"])
    with path.open("rb") as handle:
        client.post("/transfer/upload/", {"file": handle, "kind": "leads", "on_duplicate": "skip"})
    job = ImportJob.objects.get()
    page = client.get(f"/transfer/imports/{job.pk}/").content.decode()
    assert 'id="duplicate-list"' in page
    assert "<th>线索</th>" in page or "<th>Lead</th>" in page
    assert Lead.objects.count() == 0


def test_followup_jobs_offer_no_update(org: Any, tmp_path: Path) -> None:
    client = _client(org.admin)
    path = write_csv(
        tmp_path / "f.csv",
        [["某公司", "2024-05-20", "电话", "x"]],
        ["客户", "跟进时间", "跟进方式", "跟进内容"],
    )
    with path.open("rb") as handle:
        client.post(
            "/transfer/upload/", {"file": handle, "kind": "followups", "on_duplicate": "skip"}
        )
    job = ImportJob.objects.get()
    page = client.get(f"/transfer/imports/{job.pk}/").content.decode()
    assert 'value="create"' in page
    assert 'value="update"' not in page
