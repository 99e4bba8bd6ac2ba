"""The permission table of the governance backups endpoints: the list of backups is the
administrators' alone (every other role 403); backups belong to no team, so no case is out
of scope."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.governance.models import BackupKind, BackupRun

ADMIN_ONLY: Roles = {
    "may": ("admin",),
    "may_not": ("rep", "east_manager", "marketing", "service"),
    "out_of_scope": (),
}


def backup_run(org: Organisation) -> dict[str, Any]:
    made = BackupRun.objects.create(
        kind=BackupKind.MANUAL, path="/backup/kehu.tar.gz", size=1024, ok=True, actor=org.admin
    )
    return {"_run": made}


TABLE: list[Endpoint] = [
    Endpoint("GET /backups", backup_run, **ADMIN_ONLY),
    Endpoint("GET governance:backups", backup_run, **ADMIN_ONLY),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
