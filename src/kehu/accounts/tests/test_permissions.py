"""Who may revoke an API token (the three-way table of ``kehu.core.testing.permissions``).

A token is its user's alone: every other user, an administrator included, is out of scope.
"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.accounts import services
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, cases, run

OTHERS = ("colleague", "admin")


def token(org: Organisation) -> dict[str, Any]:
    return {"token_id": services.token_create(user=org.rep, name="脚本").token.pk}


TABLE = [
    Endpoint("DELETE /users/me/tokens/{token_id}", token, may=("rep",), out_of_scope=OTHERS),
    Endpoint(
        "POST accounts:token_revoke",
        token,
        may=("rep",),
        out_of_scope=OTHERS,
    ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
