"""Who may reach each score URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The customer belongs to 上海组's rep: the rep, the east manager (the customer's department)
and the admin read and act on its scores; marketing reads every customer, so it reads the
scores but may not act (403); the rep's colleague, the south manager, a rep of another region
and the service user do not see the customer (404).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kehu.analytics.services import scores
from kehu.analytics.tests.scores_support import make_customer, touch
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run

pytestmark = pytest.mark.django_db

OTHERS = ("colleague", "south_manager", "south_rep", "service")
READ: Roles = {"may": ("rep", "east_manager", "admin", "marketing"), "out_of_scope": OTHERS}
ACT: Roles = {
    "may": ("rep", "east_manager", "admin"),
    "may_not": ("marketing",),
    "out_of_scope": OTHERS,
}


def scored(org: Organisation) -> dict[str, Any]:
    customer = make_customer(org.rep)
    touch(customer, 100)
    scores.recompute([customer.pk])
    return {"customer_id": customer.pk, "_customer": customer}


def soon() -> str:
    return (timezone.localdate() + timedelta(days=2)).isoformat()


TABLE = [
    # --- API ---
    Endpoint("GET /scores/{customer_id}", scored, **READ),
    Endpoint(
        "POST /scores/{customer_id}/retention-task",
        scored,
        body=lambda org, made: {"kind": "senior_revisit", "due_on": soon()},
        status=201,
        **ACT,
    ),
    Endpoint(
        "POST /scores/{customer_id}/plan-owner",
        scored,
        body=lambda org, made: {"user_id": org.rep.pk},
        **ACT,
    ),
    # --- UI ---
    Endpoint("GET analytics:score_retention", scored, **READ),
    Endpoint("GET analytics:score_plan_owner", scored, **READ),
    Endpoint(
        "POST analytics:score_retention",
        scored,
        body=lambda org, made: {"kind": "offer_review", "due_on": soon()},
        **ACT,
    ),
    Endpoint(
        "POST analytics:score_plan_owner",
        scored,
        body=lambda org, made: {"user": org.rep.pk},
        **ACT,
    ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
