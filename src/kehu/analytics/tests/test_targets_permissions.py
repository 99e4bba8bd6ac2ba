"""Who may reach each target URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The target is 上海组's rep's own, set by the east manager: the east manager and the admin
set and change it; the rep reads it (and its progress) but may not change it (403); the
rep's colleague, the other region's rep and manager, service and marketing do not see it (404).
"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.analytics.tests.targets_support import target
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run

# The database is set up before the first case (an anonymous case needs none, and asking for
# it from inside a case came too late when this module ran alone).
pytestmark = pytest.mark.django_db

OTHERS = ("colleague", "south_rep", "south_manager", "service", "marketing")
READ: Roles = {"may": ("rep", "east_manager", "admin"), "out_of_scope": OTHERS}
WRITE: Roles = {"may": ("east_manager", "admin"), "may_not": ("rep",), "out_of_scope": OTHERS}


def rep_target(org: Organisation) -> dict[str, Any]:
    made = target(org.east_manager, owner=org.rep.pk, name="个人新增客户")
    return {"target_id": made.pk, "_target": made}


def patch_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_target"].version, "value": 12}


def form_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": made["_target"].version,
        "name": "个人新增客户",
        "period_kind": "quarter",
        "start": "2026-10-01",
        "owner": org.rep.pk,
        "measure": "new_customers",
        "value": "12",
    }


TABLE = [
    # --- API ---
    Endpoint("GET /targets/{target_id}", rep_target, **READ),
    Endpoint("GET /targets/{target_id}/progress", rep_target, **READ),
    Endpoint("PATCH /targets/{target_id}", rep_target, body=patch_body, **WRITE),
    Endpoint("DELETE /targets/{target_id}", rep_target, **WRITE),
    # --- UI ---
    Endpoint("GET analytics:target_edit", rep_target, **WRITE),
    Endpoint("POST analytics:target_edit", rep_target, body=form_body, **WRITE),
    Endpoint("GET analytics:target_delete", rep_target, **WRITE),
    Endpoint("POST analytics:target_delete", rep_target, **WRITE),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
