"""Who may read a record's change history (the three-way table of
``kehu.core.testing.permissions``): whoever sees the record."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core import config
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, cases, run
from kehu.customers.tests.factories import make_customer

VIEWERS = ("rep", "east_manager", "marketing")
OTHERS = ("colleague", "south_manager")


def customer_history(org: Organisation) -> dict[str, Any]:
    return {"model_label": "customers.customer", "object_id": make_customer(org.rep).pk}


def a_setting(org: Organisation) -> dict[str, Any]:
    return {"key": "opportunities.stalled_days"}


def a_changed_setting(org: Organisation) -> dict[str, Any]:
    config.put("opportunities.stalled_days", 9, actor=org.admin, reason="周会决定")
    return {"key": "opportunities.stalled_days"}


# Settings are the company's, not a team's: admins only, and no record is out of anyone's scope.
SETTINGS = {"may": ("admin",), "may_not": ("rep", "east_manager", "marketing"), "out_of_scope": ()}

TABLE = [
    Endpoint(
        "GET /history/{model_label}/{object_id}",
        customer_history,
        may=VIEWERS,
        out_of_scope=OTHERS,
    ),
    Endpoint("GET core:history", customer_history, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint("GET /settings/{key}", a_setting, **SETTINGS),
    Endpoint("PUT /settings/{key}", a_setting, body={"value": 10, "reason": "周会"}, **SETTINGS),
    Endpoint("POST /settings/{key}/reset", a_changed_setting, body={"reason": "恢复"}, **SETTINGS),
    Endpoint("GET /settings/{key}/history", a_setting, **SETTINGS),
    Endpoint("GET settings:edit", a_setting, **SETTINGS),
    Endpoint("POST settings:edit", a_setting, body={"value": 10, "reason": "周会"}, **SETTINGS),
    Endpoint("POST settings:reset", a_changed_setting, body={"reason": "恢复"}, **SETTINGS),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
