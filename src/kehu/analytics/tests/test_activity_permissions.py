"""Who may open the rep-performance, data-quality and demand-hotspots reports (API, export,
page), and who gets 404 for them or for a department outside their scope.

The three reports are open to admins, managers and sales (demand hotspots to service too);
any other role gets 404, as for a report that does not exist. Asked for 华东区, only its
manager and the admin get the report: a rep of 上海组, the south manager and the south rep get
404 (the department is outside their scope, ``reporting.parse_filters``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run

SELLERS = ("rep", "colleague", "east_manager", "south_manager", "south_rep", "admin")
SALES_REPORT: Roles = {"may": SELLERS, "out_of_scope": ("service", "marketing")}
HOTSPOTS: Roles = {"may": (*SELLERS, "service"), "out_of_scope": ("marketing",)}
EAST: Roles = {
    "may": ("east_manager", "admin"),
    "out_of_scope": ("rep", "south_manager", "south_rep"),
}
PERIOD = {"from": "2026-01-01", "to": "2026-03-31"}
pytestmark = pytest.mark.django_db


def report(key: str) -> Callable[[Organisation], dict[str, Any]]:
    def make(org: Organisation) -> dict[str, Any]:
        return {"key": key}

    return make


def east(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {**PERIOD, "department": org.east.pk}


def _entries(key: str, roles: Roles) -> list[Endpoint]:
    return [
        Endpoint("GET /reports/{key}", report(key), body=PERIOD, label=key, **roles),
        Endpoint("GET /reports/{key}/export", report(key), body=PERIOD, label=key, **roles),
        Endpoint("GET analytics:report", report(key), body=PERIOD, label=key, **roles),
        Endpoint("GET /reports/{key}", report(key), body=east, label=f"{key} east", **EAST),
        Endpoint("GET analytics:report", report(key), body=east, label=f"{key} east", **EAST),
    ]


TABLE = [
    *_entries("rep-performance", SALES_REPORT),
    *_entries("data-quality", SALES_REPORT),
    *_entries("demand-hotspots", HOTSPOTS),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
