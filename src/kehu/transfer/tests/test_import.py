"""The import pipeline: dry run, writes through the customer rules, dedup, decisions, resume."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from openpyxl import load_workbook

from kehu.core import config
from kehu.core.context import acting_context
from kehu.core.errors import Forbidden
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, StatusChange, Tag
from kehu.customers.normalize import completeness
from kehu.followups.models import Task, TaskKind, TaskStatus
from kehu.transfer import engine, services
from kehu.transfer.models import ImportJob, ImportRecord
from kehu.transfer.reports import reservoir_sample, write_error_report
from kehu.transfer.tests.helpers import HEADERS, customer_rows, write_csv, write_xlsx

pytestmark = pytest.mark.django_db


def _job(actor: Any, path: Path, **options: Any) -> ImportJob:
    return services.import_job_create(actor=actor, kind="customers", path=path, **options)


def _run(job: ImportJob, *, dry_run: bool = False, batch_size: int = 1000) -> ImportJob:
    job.dry_run = dry_run
    job.save()
    return engine.run_job(job, batch_size=batch_size)


def test_dry_run_counts_and_writes_nothing(org: Any, tmp_path: Path) -> None:
    rows = customer_rows(5)
    rows[2][5] = "12345"  # bad mobile
    rows.append(list(rows[0]))  # a duplicate of line 2
    job = _run(_job(org.admin, write_csv(tmp_path / "a.csv", rows)), dry_run=True)
    assert job.status == "checked"
    assert job.counts["new"] == 4
    assert job.counts["invalid"] == 1
    assert job.counts["duplicate"] == 1
    assert job.errors[0] == {"line": 4, "column": "手机", "message": job.errors[0]["message"]}
    assert "12345" in job.errors[0]["message"]
    assert job.duplicates[0]["line"] == 7
    assert job.duplicates[0]["earlier_line"] == 2
    assert Customer.objects.count() == 0
    assert Contact.objects.count() == 0


def test_import_applies_the_customer_rules(org: Any, tmp_path: Path) -> None:
    headers = [*HEADERS, "标签", "负责人", "年度预算"]
    rows = [[*row, "高意向客户,制造业", "rep", "60万"] for row in customer_rows(3)]
    path = write_xlsx(tmp_path / "a.xlsx", rows, headers=headers)
    with acting_context("import-test-1"):
        job = _run(_job(org.east_manager, path))
    assert job.status == "done", job.message
    assert job.counts["created"] == 3
    customer = Customer.objects.get(name=rows[0][0])
    assert customer.number.startswith("C-SH-")
    assert customer.owner == org.rep
    assert customer.department == org.shanghai
    assert customer.created_by == org.east_manager
    assert customer.industry_id == "34"
    assert customer.region_id == "310000"
    assert customer.source == "trade_show"
    assert customer.founded_on.isoformat() == "2015-05-20"
    assert customer.grade == "A"  # grading rules: budget ≥ 50万
    assert customer.name_key
    assert "13900000000" in customer.search_text
    assert customer.to_verify == []  # a blank size is blank; 待核实 is written, not implied
    assert customer.completeness == completeness(customer, reachable_contact=True) > 0
    assert {t.name for t in customer.tags.all()} == {"高意向客户", "制造业"}
    contact = customer.contacts.get()
    assert contact.mobile == "+8613900000000"
    assert contact.is_primary
    history = customer.history.get()
    assert history.history_user == org.east_manager
    assert history.request_id == "import-test-1"
    assert "import" in history.history_change_reason.lower()
    assert contact.history.get().history_user == org.east_manager
    assert StatusChange.objects.filter(customer=customer, new_status="potential").exists()
    assert ImportRecord.objects.filter(job=job).count() == 3
    numbers = list(Customer.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 3


def test_imported_customers_have_their_cadence_task_right_after_the_job(
    org: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    path = write_csv(tmp_path / "a.csv", customer_rows(5))
    with django_capture_on_commit_callbacks(execute=True):
        job = _run(_job(org.east_manager, path), batch_size=2)
    assert job.counts["created"] == 5
    imported = Customer.objects.filter(created_by=org.east_manager)
    planned = Task.objects.filter(kind=TaskKind.CADENCE, status=TaskStatus.OPEN)
    assert sorted(planned.values_list("customer_id", flat=True)) == sorted(
        imported.values_list("pk", flat=True)
    )
    assert {task.assignee_id for task in planned} == {org.east_manager.pk}


def test_sales_may_not_import_by_default(org: Any, tmp_path: Path) -> None:
    with pytest.raises(Forbidden):
        _job(org.rep, write_csv(tmp_path / "a.csv", customer_rows(1)))


def test_manager_cannot_give_customers_to_another_department(org: Any, tmp_path: Path) -> None:
    headers = [*HEADERS, "负责人"]
    rows = [
        [*row, owner] for row, owner in zip(customer_rows(2), ["rep", "south_rep"], strict=True)
    ]
    job = _run(_job(org.east_manager, write_csv(tmp_path / "a.csv", rows, headers=headers)))
    assert job.counts["created"] == 1
    assert job.counts["invalid"] == 1
    assert job.errors[0]["line"] == 3
    assert job.errors[0]["column"] == "负责人"


def _existing(org: Any, name: str = "老客户精工有限公司", mobile: str = "13900000001") -> Customer:
    return customer_services.customer_create(
        actor=org.rep, data={"name": name}, contacts=[{"name": "老王", "mobile": mobile}]
    )


def test_duplicates_of_the_database_skip_update_or_create(org: Any, tmp_path: Path) -> None:
    old = _existing(org)
    rows = customer_rows(3)
    rows[1][5] = "13900000001"  # same mobile as the existing customer
    path = write_csv(tmp_path / "a.csv", rows)

    skipped = _run(_job(org.admin, path), dry_run=True)
    assert skipped.counts["duplicate"] == 1
    assert skipped.duplicates[0]["existing"] == [old.pk]
    assert skipped.duplicates[0]["reasons"] == ["p"]

    job = _job(org.admin, path, on_duplicate="update")
    job = _run(job)
    assert job.counts["created"] == 2
    assert job.counts["updated"] == 1
    old.refresh_from_db()
    assert old.industry_id == "34"  # filled from the file
    assert old.version == 2
    assert old.history.first().history_user == org.admin


def test_row_by_row_decisions_override_the_global_one(org: Any, tmp_path: Path) -> None:
    _existing(org, mobile="13900000001")
    rows = customer_rows(3)
    rows[1][5] = "13900000001"
    job = _job(org.admin, write_csv(tmp_path / "a.csv", rows), on_duplicate="skip")
    job = services.import_job_configure(actor=org.admin, job=job, row_decisions={"3": "create"})
    job = _run(job)
    assert job.counts["created"] == 3
    assert Customer.objects.count() == 4


def test_same_company_on_several_rows_merges_contacts(org: Any, tmp_path: Path) -> None:
    rows = customer_rows(2)
    extra = list(rows[0])
    extra[4], extra[5], extra[6] = "李四", "13700000000", "lisi@example.cn"
    rows.append(extra)
    job = _run(_job(org.admin, write_csv(tmp_path / "a.csv", rows), on_duplicate="update"))
    assert job.counts["created"] == 2
    customer = Customer.objects.get(name=rows[0][0])
    assert sorted(customer.contacts.values_list("name", flat=True)) == ["李四", "联系人0"]


@pytest.mark.parametrize("batch_size", [1000, 1])
def test_a_row_repeating_an_earlier_row_merges_into_it_in_any_batch(
    org: Any, tmp_path: Path, batch_size: int
) -> None:
    """The same outcome whether the earlier row was written in an earlier batch (its customer
    is then in the database) or is in the same batch: merged, its fields not updated."""
    rows = customer_rows(3)
    again = list(rows[0])
    again[1], again[4], again[5] = "软件和信息技术服务业", "李四", "13700000000"  # same e-mail
    rows.append(again)
    path = write_csv(tmp_path / "a.csv", rows)
    job = _run(_job(org.admin, path, on_duplicate="update"), batch_size=batch_size)
    assert (job.counts["created"], job.counts["updated"]) == (3, 1)
    assert job.duplicates[0]["earlier_line"] == 2
    assert job.duplicates[0]["existing"] == []  # the earlier row's customer is not "existing"
    customer = Customer.objects.get(name=rows[0][0])
    assert customer.industry_id == "34"  # the earlier row's industry, not updated
    # the contact shares the earlier row's e-mail: the same person, not added again
    assert list(customer.contacts.values_list("name", flat=True)) == ["联系人0"]


def test_a_row_repeating_a_row_that_updated_a_customer_merges_into_that_customer(
    org: Any, tmp_path: Path
) -> None:
    old = _existing(org, mobile="13900000001")
    first = customer_rows(1)[0]
    first[5] = "13900000001"  # updates the existing customer
    second = customer_rows(1, start=1)[0]
    second[4], second[5], second[6] = "李四", "13700000000", first[6]  # repeats the first row
    job = _run(_job(org.admin, write_csv(tmp_path / "a.csv", [first, second]),
                    on_duplicate="update"))  # fmt: skip
    assert (job.counts["created"], job.counts["updated"]) == (0, 2)
    # the first row's contact has the existing mobile (not added); the second's is new
    assert sorted(old.contacts.values_list("name", flat=True)) == ["李四", "老王"]
    assert ImportRecord.objects.filter(job=job, object_id=old.pk).count() == 2


def test_error_report_holds_the_original_rows_and_an_error_column(org: Any, tmp_path: Path) -> None:
    rows = customer_rows(3)
    rows[0][6] = "not-an-email"
    rows[2][1] = "外星产业"
    job = _run(_job(org.admin, write_csv(tmp_path / "a.csv", rows)))
    target = tmp_path / "errors.xlsx"
    assert write_error_report(job, target) == 2
    sheet = load_workbook(target).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "Line"
    assert values[0][1:-1] == tuple(HEADERS)
    assert values[1][0] == 2
    assert values[1][7] == "not-an-email"
    assert "邮箱" in values[1][-1]
    assert values[2][0] == 4
    assert "所属行业" in values[2][-1]


def test_verification_report(org: Any, tmp_path: Path) -> None:
    job = _run(_job(org.admin, write_csv(tmp_path / "a.csv", customer_rows(60))))
    report = job.report
    assert report["overall"] == 100.0
    assert report["passed"] is True
    assert len(report["sample"]) == 50
    first = report["sample"][0]
    assert first["pairs"][0]["source"] == first["pairs"][0]["stored"]
    assert all(pair["same"] for item in report["sample"] for pair in item["pairs"])
    assert {f["key"]: f["percent"] for f in report["fields"]}["contact_mobile"] == 100.0


def test_verification_sample_is_drawn_during_the_import_without_reading_the_file_again(
    org: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kehu.transfer import reports

    def no_second_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("the verification read the file again")

    monkeypatch.setattr(reports, "open_sheet", no_second_read)
    job = _run(_job(org.admin, write_csv(tmp_path / "a.csv", customer_rows(120))), batch_size=25)
    sample = job.report["sample"]
    assert len(sample) == 50
    lines = [item["line"] for item in sample]
    assert lines == sorted(set(lines))
    assert max(lines) > 60  # drawn from every batch, not the first 50 rows
    records = dict(ImportRecord.objects.filter(job=job).values_list("row_number", "object_id"))
    assert all(records[item["line"]] == item["id"] for item in sample)
    assert all(pair["same"] for item in sample for pair in item["pairs"])


def test_cancel_leaves_whole_batches_and_resume_finishes(org: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", customer_rows(25))
    job = _job(org.admin, path)
    job.dry_run = False
    job.save()
    calls = []

    def cancel_after_two_batches(current: ImportJob) -> None:
        calls.append(current.next_row)
        if len(calls) == 2:
            ImportJob.objects.filter(pk=current.pk).update(cancel_requested=True)

    job = engine.run_job(job, batch_size=10, progress=cancel_after_two_batches)
    assert job.status == "cancelled"
    assert Customer.objects.count() == 20
    assert job.next_row == 22  # lines 2..21 are written
    assert ImportRecord.objects.filter(job=job).count() == 20

    job.cancel_requested = False
    job.save()
    job = engine.run_job(job, batch_size=10)
    assert job.status == "done"
    assert Customer.objects.count() == 25
    assert job.counts["created"] == 25
    assert Tag.objects.count() == 0


def test_matches_outside_the_scope_are_listed_without_id(org: Any, tmp_path: Path) -> None:
    _existing(org, mobile="13900000001")  # owned by the Shanghai rep
    config.put("transfer.import_roles", ["admin", "manager"])
    rows = customer_rows(2)
    rows[1][5] = "13900000001"
    job = _run(_job(org.south_manager, write_csv(tmp_path / "a.csv", rows)), dry_run=True)
    assert job.duplicates[0]["existing"] == []
    assert job.duplicates[0]["hidden"] == 1


def test_a_dead_import_can_be_cancelled_and_resumed(org: Any, tmp_path: Path) -> None:
    import time_machine
    from django.utils import timezone

    path = write_csv(tmp_path / "a.csv", customer_rows(12))
    job = _job(org.admin, path)
    job.status = "importing"
    job.dry_run = False
    job.started_at = job.heartbeat_at = timezone.now()
    job.save()
    with pytest.raises(Exception, match="already running"):
        services.import_job_start(actor=org.admin, job=job, dry_run=False)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        job.refresh_from_db()
        assert job.is_stale
        job = services.import_job_cancel(actor=org.admin, job=job)
        assert job.status == "cancelled"
        services.import_job_start(actor=org.admin, job=job, dry_run=False)
    job.refresh_from_db()
    assert job.status == "done"
    assert Customer.objects.count() == 12


def test_verification_sample_is_uniform_in_one_pass() -> None:
    rng = random.Random(3)
    assert reservoir_sample(iter(range(10)), 50, rng) == list(range(10))
    hits = [0] * 100
    for _ in range(2000):
        picked = reservoir_sample(iter(range(100)), 10, rng)
        assert len(set(picked)) == 10
        for item in picked:
            hits[item] += 1
    # each item is picked 2000 × 10/100 = 200 times on average
    assert min(hits) > 140
    assert max(hits) < 260


def _pragma(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return int(cursor.fetchone()[0])


def test_an_import_on_sqlite_runs_with_its_own_connection_settings_and_puts_them_back(
    org: Any, tmp_path: Path
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's page cache and write-ahead log")
    before = (_pragma("cache_size"), _pragma("wal_autocheckpoint"))
    seen: list[tuple[int, int]] = []

    def note_settings(current: ImportJob) -> None:
        seen.append((_pragma("cache_size"), _pragma("wal_autocheckpoint")))

    job = _job(org.admin, write_csv(tmp_path / "a.csv", customer_rows(3)))
    job.dry_run = False
    job.save()
    job = engine.run_job(job, progress=note_settings)
    assert job.status == "done", job.message
    assert seen == [(-engine.IMPORT_PAGE_CACHE_KIB, engine.IMPORT_WAL_CHECKPOINT_PAGES)]
    assert (_pragma("cache_size"), _pragma("wal_autocheckpoint")) == before


def test_the_collector_is_tuned_for_an_import_only_while_it_runs(org: Any, tmp_path: Path) -> None:
    import gc

    before = gc.get_threshold()
    during: list[tuple[int, int]] = []
    job = _job(org.admin, write_csv(tmp_path / "a.csv", customer_rows(3)))
    job.dry_run = False
    job.save()
    job = engine.run_job(
        job, progress=lambda _job: during.append((gc.get_freeze_count(), gc.get_threshold()[0]))
    )
    assert job.status == "done", job.message
    assert during
    assert all(frozen > 0 and young == engine.IMPORT_YOUNG_OBJECTS for frozen, young in during)
    # a worker's later jobs are collected as before
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
