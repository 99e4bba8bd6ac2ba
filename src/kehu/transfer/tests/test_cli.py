"""`kehu import` / `kehu export` in a real process on a file-based SQLite database.

The kill test runs an import in a subprocess, SIGKILLs it in the middle and checks that the
database holds only whole batches with a consistent resume point; then it resumes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kehu.transfer.tests.helpers import customer_rows, write_csv

ROWS = 3000
BATCH = 100


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("KEHU_DATABASE_URL", "KEHU_REDIS_URL", "KEHU_TESTING", "KEHU_JOBS_IMMEDIATE"):
        env.pop(name, None)
    env["KEHU_DATA_DIR"] = str(data_dir)
    env["DJANGO_SETTINGS_MODULE"] = "kehu.settings"
    env["KEHU_LANGUAGE"] = "en"
    return env


def _kehu(
    env: dict[str, str], *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kehu.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def instance(tmp_path: Path) -> dict[str, str]:
    env = _env(tmp_path / "data")
    assert _kehu(env, "manage", "migrate", "-v", "0").returncode == 0
    created = _kehu(env, "user", "add", "boss", "--role", "admin")
    assert created.returncode == 0, created.stderr
    # the files hold a name, an industry, a region and a contact: the entry rules these tests
    # run with are the relaxed ones of every other test (docs/data-entry.md)
    relaxed = _kehu(
        env,
        "manage",
        "shell",
        "-c",
        "from kehu.core.models import SystemSetting\n"
        "from kehu.core.testing.entry_rules import RELAXED\n"
        "for key, value in RELAXED.items():\n"
        "    SystemSetting.objects.update_or_create(key=key, defaults={'value': value})",
    )
    assert relaxed.returncode == 0, relaxed.stderr
    return env


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_dry_run_then_import_and_export(instance: dict[str, str], tmp_path: Path) -> None:
    rows = customer_rows(20)
    rows[4][6] = "broken@"
    path = write_csv(tmp_path / "customers.csv", rows, encoding="gbk")
    checked = _kehu(instance, "import", "customers", str(path), "--dry-run")
    assert checked.returncode == 0, checked.stderr
    assert "new: 19" in checked.stdout
    assert "invalid: 1" in checked.stdout
    assert "line 6, 邮箱" in checked.stdout
    db = Path(instance["KEHU_DATA_DIR"]) / "kehu.sqlite3"
    assert _query(db, "select count(*) from customers_customer") == [(0,)]

    report = tmp_path / "errors.xlsx"
    done = _kehu(instance, "import", "customers", str(path), "--error-report", str(report))
    assert done.returncode == 0, done.stderr
    assert "created: 19" in done.stdout
    assert "completeness: 100.0%" in done.stdout
    assert report.exists()

    again = _kehu(instance, "import", "customers", str(path), "--on-duplicate", "skip")
    assert "duplicate: 19" in again.stdout

    out = tmp_path / "out.csv"
    exported = _kehu(instance, "export", "customers", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "19 rows" in exported.stdout
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert _query(db, "select row_count, channel from transfer_exportlog") == [(19, "cli")]


def test_mapping_option_and_bad_input(instance: dict[str, str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "odd.csv", [["甲乙丙丁科技有限公司", "13800000000"]],
                     headers=["单位", "号码"])  # fmt: skip
    missing = _kehu(instance, "import", "customers", str(path), "--dry-run")
    assert missing.returncode == 2
    assert "No column is mapped to 客户名称" in missing.stderr
    mapped = _kehu(
        instance, "import", "customers", str(path), "--dry-run",
        "--mapping", '{"单位": "name", "号码": "contact_mobile"}',
    )  # fmt: skip
    assert mapped.returncode == 0, mapped.stderr
    assert "new: 1" in mapped.stdout
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    failed = _kehu(instance, "import", "customers", str(empty))
    assert failed.returncode == 2
    assert "The file is empty." in failed.stderr
    # an import limit: one line that names it and the setting that raises it
    many = write_csv(tmp_path / "many.csv", customer_rows(3))
    limited = _kehu({**instance, "KEHU_IMPORT_MAX_ROWS": "2"}, "import", "customers", str(many))
    assert limited.returncode == 2
    assert limited.stderr.splitlines() == [
        "kehu import: The file has more than 2 rows (blank rows included); split it into files "
        "of at most 2 rows (setting KEHU_IMPORT_MAX_ROWS)."
    ]


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _ended(pids: list[int], *, timeout: float) -> bool:
    """True once none of ``pids`` runs (gone, or a zombie its new parent has not reaped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for pid in pids:
            try:
                states.append(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])
            except FileNotFoundError:
                continue
        if all(state in ("Z", "X") for state in states):
            return True
        time.sleep(0.05)
    return False


def test_kill_9_leaves_whole_batches_and_resumes(instance: dict[str, str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", customer_rows(ROWS))
    db = Path(instance["KEHU_DATA_DIR"]) / "kehu.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-m", "kehu.cli", "import", "customers", str(path),
         "--batch-size", str(BATCH)],
        env=instance,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    written = 0
    while time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            written = _query(db, "select count(*) from customers_customer")[0][0]  # type: ignore[assignment]
        except sqlite3.OperationalError:
            continue
        if written >= 3 * BATCH:
            break
    readers = _children(process.pid)  # the process reading and cleaning the file
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert 3 * BATCH <= written < ROWS, "the import finished before it could be killed"
    assert readers, "a file of many batches is read in a second process"
    assert _ended(readers, timeout=30), "the reading process outlived the import"

    customers = _query(db, "select count(*) from customers_customer")[0][0]
    contacts = _query(db, "select count(*) from customers_contact")[0][0]
    history = _query(db, "select count(*) from customers_historicalcustomer")[0][0]
    records = _query(db, "select count(*) from transfer_importrecord")[0][0]
    job_id, status, next_row = _query(db, "select id, status, next_row from transfer_importjob")[0]
    assert status == "importing"  # the process died; nothing marked it
    assert customers % BATCH == 0
    assert customers == contacts == history == records
    assert next_row == customers + 2  # the header is line 1, the next unwritten line follows
    sequences = _query(db, "select sum(last_value) from customers_numbersequence")[0][0]
    assert sequences == customers

    # resumed with the default batch size: its first batch holds rows written before the kill
    resumed = _kehu(instance, "import", "--resume", str(job_id), "customers")
    assert resumed.returncode == 0, resumed.stderr
    assert "new: 3000" in resumed.stdout, resumed.stdout  # counted once, not as duplicates
    assert "duplicate: 0" in resumed.stdout, resumed.stdout
    assert _query(db, "select count(*) from customers_customer")[0][0] == ROWS
    assert _query(db, "select count(*) from transfer_importrecord")[0][0] == ROWS
    assert _query(db, "select count(distinct number) from customers_customer")[0][0] == ROWS
    assert _query(db, "select count(distinct name) from customers_customer")[0][0] == ROWS
    assert _query(db, "select status from transfer_importjob")[0][0] == "done"


def test_leads_opportunities_and_followups(instance: dict[str, str], tmp_path: Path) -> None:
    """The other kinds: positional KIND or --kind, --mapping, row/column errors, verification."""
    customers = write_csv(tmp_path / "c.csv", customer_rows(2))
    assert _kehu(instance, "import", "customers", str(customers)).returncode == 0
    leads = write_csv(
        tmp_path / "leads.csv",
        [["线索甲公司", "张三", "13711112222", "官网"], ["线索乙公司", "李四", "", "展会"]],
        headers=["公司名称", "姓名", "手机号", "渠道"],
    )
    checked = _kehu(instance, "import", "--kind", "leads", str(leads), "--dry-run")
    assert checked.returncode == 0, checked.stderr
    assert "new: 1" in checked.stdout
    assert "invalid: 1" in checked.stdout
    assert "line 3, 手机号: Give a mobile number or an e-mail address." in checked.stdout
    done = _kehu(instance, "import", "leads", str(leads), "--mapping", '{"渠道": "source"}')
    assert "created: 1" in done.stdout, done.stdout + done.stderr
    assert "completeness: 100.0%" in done.stdout
    opportunities = write_csv(
        tmp_path / "o.csv",
        [["CRM采购", customer_rows(1)[0][0], "初步接触", "20万"], ["二期", "无此客户", "谈判", ""]],
        headers=["商机名称", "客户名称", "商机阶段", "预计金额"],
    )
    imported = _kehu(instance, "import", "opportunities", str(opportunities))
    assert "created: 1" in imported.stdout, imported.stdout + imported.stderr
    assert "line 3, 客户名称: no customer you can see" in imported.stdout
    assert "line 3, 商机阶段: “谈判” is not a stage" in imported.stdout
    followups = write_csv(
        tmp_path / "f.csv",
        [[customer_rows(1)[0][0], "2024-05-20 14:30", "电话", "介绍产品"]],
        headers=["客户", "跟进时间", "跟进方式", "跟进内容"],
    )
    logged = _kehu(instance, "import", "followups", str(followups))
    assert "created: 1" in logged.stdout, logged.stdout + logged.stderr
    refused = _kehu(instance, "import", "followups", str(followups), "--on-duplicate", "update")
    assert refused.returncode == 2
    assert "Follow-ups are not edited once logged" in refused.stderr
    neither = _kehu(instance, "import", str(followups))
    assert neither.returncode == 2
    assert "give the KIND" in neither.stderr
    db = Path(instance["KEHU_DATA_DIR"]) / "kehu.sqlite3"
    assert _query(db, "SELECT count(*) FROM leads_lead") == [(1,)]
    assert _query(db, "SELECT count(*) FROM opportunities_opportunity") == [(1,)]
    assert _query(db, "SELECT count(*) FROM followups_followup") == [(1,)]
