"""Who may open each report URL and API operation (the three-way table of
``kehu.core.testing.permissions``): the generic ``/reports/{key}`` endpoints with a report the
tests register, and the quarterly review.

The filters are the object here: a department or rep outside the viewer's scope answers 404
(it must not leak), exactly as a record does. A report whose roles exclude the viewer is 404
too (it does not exist for them); the review refuses service and marketing with 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kehu.analytics.selectors.review import Quarter
from kehu.analytics.tests.reporting_support import TEST_KEY, registered, spec
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run

pytestmark = pytest.mark.django_db

MANAGERS_ONLY = "test-managers-only"


@pytest.fixture(autouse=True)
def _reports() -> Iterator[None]:
    with registered(spec(), spec(MANAGERS_ONLY, roles=frozenset({"manager", "admin"}))):
        yield


def report(org: Organisation) -> dict[str, Any]:
    return {"key": TEST_KEY}


def managers_report(org: Organisation) -> dict[str, Any]:
    return {"key": MANAGERS_ONLY}


def review(org: Organisation) -> dict[str, Any]:
    return {"department_id": org.east.pk, "quarter": str(Quarter(2026, 4))}


def review_page(org: Organisation) -> dict[str, Any]:
    return {"_quarter": "2026Q4"}


def east(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"department": org.east.pk}


def the_rep(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"owner": org.rep.pk}


def east_review(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"department": org.east.pk, "quarter": made["_quarter"]}


# A report of 华东区: its manager and the admin; a rep of 上海组 (below it), the south.
DEPARTMENT: Roles = {
    "may": ("east_manager", "admin"),
    "out_of_scope": ("south_manager", "rep", "south_rep"),
}
# A report of the rep: the rep, their manager, the admin; not the colleague or the south.
REP: Roles = {
    "may": ("rep", "east_manager", "admin"),
    "out_of_scope": ("colleague", "south_manager", "hangzhou_rep"),
}
# A report for managers only does not exist for the other roles.
MANAGERS: Roles = {
    "may": ("east_manager", "south_manager", "admin"),
    "out_of_scope": ("rep", "service", "marketing"),
}
# The review of 华东区.
REVIEW: Roles = {
    "may": ("east_manager", "admin"),
    "may_not": ("service", "marketing"),
    "out_of_scope": ("south_manager", "rep", "south_rep"),
}

TABLE: list[Endpoint] = [
    # --- API ---
    Endpoint("GET /reports/{key}", report, body=east, label="department", **DEPARTMENT),
    Endpoint("GET /reports/{key}", report, body=the_rep, label="rep", **REP),
    Endpoint("GET /reports/{key}", managers_report, label="roles", **MANAGERS),
    Endpoint("GET /reports/{key}/export", report, body=east, label="department", **DEPARTMENT),
    Endpoint("GET /reports/{key}/export", report, body=the_rep, label="rep", **REP),
    Endpoint("GET /reports/{key}/export", managers_report, label="roles", **MANAGERS),
    Endpoint("GET /reviews/{department_id}/{quarter}", review, **REVIEW),
    Endpoint("GET /reviews/{department_id}/{quarter}/xlsx", review, **REVIEW),
    Endpoint("GET /reviews/{department_id}/{quarter}/pdf", review, **REVIEW),
    # --- UI ---
    Endpoint("GET analytics:report", report, body=east, label="department", **DEPARTMENT),
    Endpoint("GET analytics:report", report, body=the_rep, label="rep", **REP),
    Endpoint("GET analytics:report", managers_report, label="roles", **MANAGERS),
    Endpoint("GET analytics:report_export", report, body=east, label="department", **DEPARTMENT),
    Endpoint("GET analytics:report_export", report, body=the_rep, label="rep", **REP),
    Endpoint("GET analytics:review", review_page, body=east_review, **REVIEW),
    Endpoint("GET analytics:review_export", review_page, body=east_review, **REVIEW),
    Endpoint("GET analytics:review_pdf", review_page, body=east_review, **REVIEW),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
