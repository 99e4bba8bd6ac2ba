"""The audit trail's admin side: the page, the API, the export (itself audited), the
``kehu audit verify`` command and the retention purge."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from openpyxl import load_workbook

from kehu.cli import main
from kehu.core import audit, config
from kehu.core.errors import InvalidInput
from kehu.core.models import AuditEntry
from kehu.core.testing.audit import last, tampering
from kehu.core.testing.factories import Organisation, api_client
from kehu.core.testing.subprocess_cli import run_kehu
from kehu.governance import tasks
from kehu.governance.services import audit as services

pytestmark = pytest.mark.django_db


def _entries(org: Organisation) -> None:
    """A few entries of different actors, actions, targets and days."""
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        audit.record("auth.sign_in", actor=org.rep, target=org.rep)
        audit.record("customers.merge", actor=org.east_manager, target=("customers.customer", 7))
    with time_machine.travel(datetime(2026, 3, 5, 9, tzinfo=UTC), tick=False):
        audit.record("auth.sign_in_failed", actor_name="ghost")
        audit.record("transfer.export", actor=org.admin, target=("transfer.exportlog", 3))


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _seqs(response: Any) -> list[str]:
    return [item["action"] for item in response.json()["items"]]


def test_api_searches_by_actor_action_target_and_days(org: Organisation) -> None:
    _entries(org)
    client = api_client(org.admin)
    merge = client.get("/api/v1/audit?action=customers.merge").json()
    assert merge["count"] == 1
    assert merge["items"][0]["target_type"] == "customers.customer"
    assert merge["items"][0]["hash"]
    assert _seqs(
        client.get("/api/v1/audit?action=auth&date_from=2026-03-01&date_to=2026-03-31")
    ) == [
        "auth.sign_in_failed",
        "auth.sign_in",
    ]
    assert _seqs(client.get("/api/v1/audit?actor=ghost")) == ["auth.sign_in_failed"]
    by_id = client.get(f"/api/v1/audit?actor={org.rep.pk}&date_to=2026-03-31")
    assert _seqs(by_id) == ["auth.sign_in"]
    target = client.get("/api/v1/audit?target_type=transfer.exportlog&target_id=3")
    assert _seqs(target) == ["transfer.export"]
    days = client.get("/api/v1/audit?date_from=2026-03-04&date_to=2026-03-05&limit=1")
    assert days.json()["count"] == 2
    assert len(days.json()["items"]) == 1


def test_api_refuses_bad_input_and_other_roles(org: Organisation) -> None:
    bad = api_client(org.admin).get("/api/v1/audit?date_from=yesterday")
    assert bad.status_code == 422
    assert "date_from" in str(bad.json())
    long = api_client(org.admin).get("/api/v1/audit?actor=" + "x" * 200)
    assert long.status_code == 422
    assert api_client(org.admin).get("/api/v1/audit?action=auth%00").status_code == 422
    for user in (org.rep, org.east_manager):
        assert api_client(user).get("/api/v1/audit").status_code == 403
    assert Client().get("/api/v1/audit").status_code == 401


def test_api_list_is_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = api_client(org.admin)
    client.get("/api/v1/audit")  # the token's first use
    for _ in range(30):
        audit.record("auth.sign_in_failed", actor_name="ghost")
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/audit?limit=20")
    assert len(response.json()["items"]) == 20


def test_page_searches_and_pages(org: Organisation, django_assert_max_num_queries: Any) -> None:
    _entries(org)
    for _ in range(60):
        audit.record("auth.sign_in_failed", actor_name="ghost")
    client = _client(org.admin)
    client.get("/governance/audit/")
    with django_assert_max_num_queries(12):
        page = client.get("/governance/audit/")
    body = page.content.decode()
    assert page.status_code == 200
    assert body.count('data-seq="') == 50
    assert "page=2" in body
    merge = client.get("/governance/audit/?action=customers.merge").content.decode()
    assert merge.count('data-seq="') == 1
    assert "customers.customer #7" in merge
    bad = client.get("/governance/audit/?date_from=nonsense")
    assert bad.status_code == 200
    assert "alert-warning" in bad.content.decode()


def test_page_is_for_administrators_only(org: Organisation) -> None:
    for user in (org.rep, org.east_manager, org.marketing):
        assert _client(user).get("/governance/audit/").status_code == 403
        assert _client(user).get("/governance/audit/export/").status_code == 403
    assert Client().get("/governance/audit/").status_code == 302


def test_csv_export_is_itself_audited(org: Organisation) -> None:
    _entries(org)
    audit.record("admin.changed", actor=org.admin, details={"fields": ["=cmd|' /C calc'!A0"]})
    response = _client(org.admin).get(
        "/governance/audit/export/?format=csv&action=auth&date_to=2026-03-31"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="kehu-audit-')
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(text)))
    assert [row[4] for row in rows[1:]] == ["auth.sign_in_failed", "auth.sign_in"]
    entry = last("governance.audit_export")
    assert entry.actor_id == org.admin.pk
    assert entry.details == {
        "format": "csv",
        "filters": {"action": "auth", "date_to": "2026-03-31"},
        "rows": 2,
    }
    everything = _client(org.admin).get("/governance/audit/export/?format=csv")
    text = b"".join(everything.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    details = [row[7] for row in csv.reader(io.StringIO(text)) if row[4] == "admin.changed"]
    assert details == ['{"fields": ["=cmd|\' /C calc\'!A0"]}']  # JSON text, not a formula


def test_xlsx_export_through_the_api(org: Organisation) -> None:
    _entries(org)
    response = api_client(org.admin).get("/api/v1/audit/export?format=xlsx&actor=ghost")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    rows = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert len(rows) == 2
    assert rows[1][3:5] == ("ghost", "auth.sign_in_failed")
    assert last("governance.audit_export").details["format"] == "xlsx"
    assert api_client(org.rep).get("/api/v1/audit/export").status_code == 403
    assert api_client(org.admin).get("/api/v1/audit/export?format=pdf").status_code == 422


def test_export_service_refuses_an_unknown_format_and_records_nothing(org: Organisation) -> None:
    count = AuditEntry.objects.count()
    with pytest.raises(InvalidInput):
        services.audit_export(actor=org.admin, filters=services.AuditFilters(), file_format="pdf")
    assert AuditEntry.objects.count() == count
    response = _client(org.admin).get("/governance/audit/export/?format=pdf")
    assert response.status_code == 302


def test_verify_command(org: Organisation, capsys: pytest.CaptureFixture[str]) -> None:
    _entries(org)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "the chain holds" in out
    broken = AuditEntry.objects.get(action="customers.merge")
    with tampering():
        AuditEntry.objects.filter(pk=broken.pk).update(target_id="8")
    assert main(["audit", "verify"]) == 1
    assert f"entry #{broken.seq}: an entry was changed" in capsys.readouterr().err


def test_retention_setting_and_nightly_purge(org: Organisation) -> None:
    assert config.get("governance.audit_retention_years") == 3
    for bad in (0, 31, "three"):
        with pytest.raises(InvalidInput):
            config.put("governance.audit_retention_years", bad)
    with time_machine.travel(datetime(2022, 6, 1, tzinfo=UTC), tick=False):
        audit.record("auth.sign_in_failed", actor_name="old")
    with time_machine.travel(datetime(2025, 6, 1, tzinfo=UTC), tick=False):
        audit.record("auth.sign_in_failed", actor_name="recent")
    with time_machine.travel(datetime(2026, 6, 2, tzinfo=UTC), tick=False):
        assert tasks.audit_purge.call_local() >= 1
    assert not AuditEntry.objects.filter(actor_name="old").exists()
    assert AuditEntry.objects.filter(actor_name="recent").exists()
    assert last("governance.audit_purged").details["deleted"] >= 1
    assert audit.verify().ok
    config.put("governance.audit_retention_years", 1)
    with time_machine.travel(datetime(2026, 6, 3, tzinfo=UTC), tick=False):
        tasks.audit_purge.call_local()
    assert not AuditEntry.objects.filter(actor_name="recent").exists()
    assert audit.verify().ok


def test_a_leap_day_cutoff() -> None:
    with time_machine.travel(datetime(2028, 2, 29, 12, tzinfo=UTC), tick=False):
        assert services.audit_cutoff().date().isoformat() == "2025-02-28"


def test_verify_on_a_real_data_dir_and_the_database_refusing_edits(tmp_path: Path) -> None:
    """A migrated SQLite data dir has the triggers: an edit is refused; one made after dropping
    them (the owner of the file) is found by ``kehu audit verify``, which exits 1."""
    added = run_kehu(
        tmp_path, "user", "add", "boss", "--role", "admin", "--password", "x-9!kQz7-Wp4m"
    )
    assert added.returncode == 0, added.stderr
    verified = run_kehu(tmp_path, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "the chain holds, 1 entries checked" in verified.stdout
    database = sqlite3.connect(tmp_path / "kehu.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        database.execute("UPDATE core_auditentry SET actor_name = 'other'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        database.execute("DELETE FROM core_auditentry")
    database.execute("DROP TRIGGER core_auditentry_no_update")
    database.execute("UPDATE core_auditentry SET actor_name = 'other'")
    database.commit()
    database.close()
    broken = run_kehu(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    assert "entry #1: an entry was changed" in broken.stderr
    # The next migrate puts the trigger back.
    assert run_kehu(tmp_path, "manage", "migrate", "-v", "0").returncode == 0
    database = sqlite3.connect(tmp_path / "kehu.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        database.execute("UPDATE core_auditentry SET actor_name = 'boss'")
    database.close()
