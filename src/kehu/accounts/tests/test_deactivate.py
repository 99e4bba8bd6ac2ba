"""user_deactivate: admins only, never oneself, history and tokens."""

from __future__ import annotations

import pytest

from kehu.accounts.services import token_authenticate, token_create, user_deactivate
from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.testing.factories import Organisation

pytestmark = pytest.mark.django_db


def test_an_admin_deactivates_a_user_with_history_and_revoked_tokens(org: Organisation) -> None:
    issued = token_create(user=org.rep, name="脚本")
    user_deactivate(actor=org.admin, user=org.rep, reason="合同到期")
    org.rep.refresh_from_db()
    assert not org.rep.is_active
    assert token_authenticate(issued.plaintext) is None
    last = org.rep.history.order_by("-history_id").first()
    assert last is not None
    assert (last.is_active, last.history_change_reason) == (False, "合同到期")
    assert last.history_user_id == org.admin.pk


def test_only_admins_deactivate_and_never_themselves(org: Organisation) -> None:
    with pytest.raises(Forbidden):
        user_deactivate(actor=org.east_manager, user=org.rep, reason="离职")
    with pytest.raises(InvalidInput) as refused:
        user_deactivate(actor=org.admin, user=org.admin, reason="离职")
    assert "user" in refused.value.errors
    org.rep.refresh_from_db()
    assert org.rep.is_active
