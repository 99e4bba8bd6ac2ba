"""Who may reach each results URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The campaign belongs to 上海组 (marketing runs it): marketing and admins read every
campaign's results, the 华东区 manager their departments'; the 华南区 manager, reps and
service get 404, as for a campaign outside their scope.
"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.campaigns.tests.results_support import make_campaign
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run

READ: Roles = {
    "may": ("marketing", "east_manager", "admin"),
    "out_of_scope": ("south_manager", "rep", "south_rep", "service"),
}


def campaign(org: Organisation) -> dict[str, Any]:
    return {"campaign_id": make_campaign(org.marketing, department=org.shanghai).pk}


TABLE = [
    # --- API ---
    Endpoint("GET /campaigns/{campaign_id}/results", campaign, **READ),
    # --- UI ---
    Endpoint("GET campaigns:results", campaign, **READ),
    Endpoint("GET campaigns:results_export", campaign, **READ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
