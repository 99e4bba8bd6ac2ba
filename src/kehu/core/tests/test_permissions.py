"""Who may read a record's change history (the three-way table of
``kehu.core.testing.permissions``): whoever sees the record."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, cases, run
from kehu.customers.tests.factories import make_customer

VIEWERS = ("rep", "east_manager", "marketing")
OTHERS = ("colleague", "south_manager")


def customer_history(org: Organisation) -> dict[str, Any]:
    return {"model_label": "customers.customer", "object_id": make_customer(org.rep).pk}


TABLE = [
    Endpoint(
        "GET /history/{model_label}/{object_id}",
        customer_history,
        may=VIEWERS,
        out_of_scope=OTHERS,
    ),
    Endpoint("GET core:history", customer_history, may=VIEWERS, out_of_scope=OTHERS),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
