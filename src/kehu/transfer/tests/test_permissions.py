"""Who may reach each import job URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

An import is seen and worked by the user who started it (华东区's manager) and by admins;
another manager's import is out of scope, and so is every import for a sales rep.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.transfer import services
from kehu.transfer.models import ImportJob, JobStatus
from kehu.transfer.tests.helpers import customer_rows, write_csv

OWNERS = ("east_manager", "admin")
OTHERS = ("south_manager", "rep")


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def job(org: Organisation) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kehu-perm-"))
    path = write_csv(folder / "客户.csv", customer_rows(2))
    row = services.import_job_create(
        actor=org.east_manager, kind="customers", path=path, original_name="客户.csv"
    )
    return {"job_id": row.pk, "_job": row}


def running_job(org: Organisation) -> dict[str, Any]:
    made = job(org)
    ImportJob.objects.filter(pk=made["job_id"]).update(
        status=JobStatus.IMPORTING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    return made


def options_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    """The options form as the job page fills it: each column mapped as detected."""
    row = made["_job"]
    columns = {
        f"col_{index}": row.mapping.get(header, "")
        for index, header in enumerate(row.detected.get("headers", []))
    }
    return {"encoding": "utf-8", "on_duplicate": "skip", **columns}


READ: Roles = {"may": OWNERS, "out_of_scope": OTHERS}

TABLE = [
    # --- API ---
    Endpoint("GET /imports/{job_id}", job, **READ),
    Endpoint("PATCH /imports/{job_id}", job, body={"on_duplicate": "skip"}, **READ),
    Endpoint("POST /imports/{job_id}/run", job, body={"dry_run": True}, **READ),
    Endpoint("POST /imports/{job_id}/cancel", running_job, **READ),
    Endpoint("GET /imports/{job_id}/errors.xlsx", job, **READ),
    Endpoint("GET /imports/{job_id}/columns", job, **READ),
    # --- UI ---
    Endpoint("GET transfer:job", job, **READ),
    Endpoint("GET transfer:job_progress", job, **READ),
    Endpoint(
        "POST transfer:job_options",
        job,
        silent=True,
        body=options_form,
        **READ,
    ),
    Endpoint("POST transfer:job_decisions", job, **READ, silent=True),
    Endpoint("POST transfer:job_run", job, body={"dry_run": "1"}, **READ, silent=True),
    Endpoint("POST transfer:job_cancel", running_job, **READ),
    Endpoint("GET transfer:job_errors", job, **READ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
