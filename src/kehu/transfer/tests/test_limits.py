"""The hard limits of an import file: each answers with a clear error, nothing is written."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from kehu.core.testing.factories import api_client
from kehu.customers.models import Customer
from kehu.transfer import engine, services
from kehu.transfer.limits import LimitExceeded
from kehu.transfer.models import ImportJob, JobStatus
from kehu.transfer.tests.helpers import customer_rows, write_csv, write_xlsx
from kehu.transfer.tests.test_reading import _rewrite_sheet

pytestmark = pytest.mark.django_db


def _create(org: Any, path: Path) -> ImportJob:
    return services.import_job_create(actor=org.admin, kind="customers", path=path)


def _refused(org: Any, path: Path) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as raised:
        _create(org, path)
    assert not ImportJob.objects.exists()
    return raised.value


def _dry_run(job: ImportJob) -> ImportJob:
    job.dry_run = True
    job.save()
    return engine.run_job(job)


@override_settings(IMPORT_MAX_FILE_BYTES=2000)
def test_file_size(org: Any, tmp_path: Path) -> None:
    big = write_csv(tmp_path / "big.csv", customer_rows(40))
    error = _refused(org, big)
    assert error.code == "file_too_large"
    assert "KB" in error.detail
    assert "KEHU_IMPORT_MAX_MB" in error.detail
    # an upload stops at the limit, answers 422 and leaves no file behind
    with big.open("rb") as handle:
        response = api_client(org.admin).post("/api/v1/imports", {"file": handle})
    assert response.status_code == 422
    assert response.json()["code"] == "file_too_large"
    uploads = Path(services.upload_dir()).parent
    assert [p for p in uploads.iterdir() if any(p.iterdir())] == []
    assert _create(org, write_csv(tmp_path / "small.csv", customer_rows(3))).total_rows == 3


@override_settings(IMPORT_MAX_ROWS=5)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_rows(org: Any, tmp_path: Path, fmt: str) -> None:
    write = write_csv if fmt == "csv" else write_xlsx
    assert _create(org, write(tmp_path / f"five.{fmt}", customer_rows(5))).total_rows == 5
    ImportJob.objects.all().delete()
    error = _refused(org, write(tmp_path / f"six.{fmt}", customer_rows(6)))
    assert error.code == "too_many_rows"
    assert "5 rows" in error.detail


@override_settings(IMPORT_MAX_ROWS=5)
def test_rows_spanning_several_lines_count_once(org: Any, tmp_path: Path) -> None:
    rows = customer_rows(5)
    for row in rows:
        row[4] = "张\n三"  # a quoted cell over two lines: ten lines, five rows
    job = _create(org, write_csv(tmp_path / "multiline.csv", rows))
    assert job.total_rows == 5


@override_settings(IMPORT_MAX_COLUMNS=5)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_columns_of_the_header(org: Any, tmp_path: Path, fmt: str) -> None:
    write = write_csv if fmt == "csv" else write_xlsx
    error = _refused(org, write(tmp_path / f"wide.{fmt}", customer_rows(2)))
    assert error.code == "too_many_columns"
    assert "more than 5 columns" in error.detail


@override_settings(IMPORT_MAX_COLUMNS=10)
def test_cells_past_the_column_limit_are_not_read(org: Any, tmp_path: Path) -> None:
    rows = [[*row, *([""] * 30), "溢出"] for row in customer_rows(3)]
    job = _dry_run(_create(org, write_csv(tmp_path / "ragged.csv", rows)))
    assert job.status == JobStatus.CHECKED
    assert job.counts["new"] == 3


def _declare_whole_sheet(xml: bytes) -> bytes:
    """The dimension of every cell Excel has, and one cell in its last column."""
    start = xml.index(b"<dimension ref=")
    end = xml.index(b"/>", start) + 2
    xml = xml[:start] + b'<dimension ref="A1:XFD1048576"/>' + xml[end:]
    far = b'<c r="XFD2" t="inlineStr"><is><t>far away</t></is></c></row>'
    return xml.replace(b"</row>", far, 2).replace(far, b"</row>", 1)


def test_a_declared_dimension_of_the_whole_sheet_is_not_trusted(org: Any, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "huge-dimension.xlsx", customer_rows(5))
    _rewrite_sheet(path, _declare_whole_sheet)
    started = time.monotonic()
    job = _create(org, path)
    assert job.total_rows == 5
    job = _dry_run(job)
    assert time.monotonic() - started < 20  # it kept a job "checking" for minutes
    assert job.status == JobStatus.CHECKED, job.message
    assert job.counts["new"] == 5
    job = services.import_job_create(actor=org.admin, kind="customers", path=path)
    job.dry_run = False
    job.save()
    assert engine.run_job(job).status == JobStatus.DONE
    assert Customer.objects.count() == 5


def test_wall_time_of_a_check_phase(org: Any, tmp_path: Path) -> None:
    job = _create(org, write_csv(tmp_path / "slow.csv", customer_rows(5)))
    with override_settings(IMPORT_CHECK_SECONDS=0):
        job = _dry_run(job)
    assert job.status == JobStatus.FAILED
    assert "0 seconds" in job.message
    assert "KEHU_IMPORT_CHECK_SECONDS" in job.message
    assert Customer.objects.count() == 0
    with override_settings(IMPORT_CHECK_SECONDS=0), pytest.raises(LimitExceeded) as raised:
        _create(org, tmp_path / "slow.csv")
    assert raised.value.code == "check_too_slow"


def _with_member(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return path


def test_zip_bomb(org: Any, tmp_path: Path) -> None:
    bomb = write_xlsx(tmp_path / "bomb.xlsx", customer_rows(3))
    _with_member(bomb, "xl/media/zeros.bin", bytes(20 * 1024 * 1024))  # ≈ 20 KB packed
    error = _refused(org, bomb)
    assert error.code == "zip_ratio"
    assert "KEHU_IMPORT_MAX_ZIP_RATIO" in error.detail
    with override_settings(IMPORT_MAX_UNZIPPED_BYTES=1024 * 1024):
        error = _refused(org, bomb)
    assert error.code == "unzipped_too_large"
    assert "1 MB" in error.detail


def test_an_ordinary_xlsx_is_far_from_the_zip_limits(org: Any, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "ok.xlsx", customer_rows(2000))
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    ratio = sum(m.file_size for m in members) / sum(m.compress_size for m in members)
    assert ratio < 20
    assert _create(org, path).total_rows == 2000


@override_settings(IMPORT_MAX_ROWS=2)
def test_the_api_answers_the_limit_as_json(org: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "rows.csv", customer_rows(3))
    response = api_client(org.admin).post(
        "/api/v1/imports", {"file": io.BytesIO(path.read_bytes()), "kind": "customers"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "too_many_rows"
    assert "KEHU_IMPORT_MAX_ROWS" in body["detail"]  # in the language of the request
    assert not ImportJob.objects.exists()
