"""Who may mark a notification read or remove a delivery channel (the three-way table of
``kehu.core.testing.permissions``).

Notifications and channels are their user's alone: every other user, an administrator
included, is out of scope.
"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, cases, run
from kehu.notifications.models import Channel, Notification

OTHERS = ("colleague", "admin")


def notification(org: Organisation) -> dict[str, Any]:
    row = Notification.objects.create(recipient=org.rep, kind="test", title="新任务")
    return {"notification_id": row.pk}


def channel(org: Organisation) -> dict[str, Any]:
    row = Channel.objects.create(user=org.rep, kind="email", target="rep@corp.cn")
    return {"channel_id": row.pk}


TABLE = [
    Endpoint(
        "POST /notifications/{notification_id}/read",
        notification,
        may=("rep",),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "DELETE /notifications/channels/{channel_id}", channel, may=("rep",), out_of_scope=OTHERS
    ),
    Endpoint(
        "POST notifications:mark_read", notification, may=("rep",), out_of_scope=OTHERS, silent=True
    ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
