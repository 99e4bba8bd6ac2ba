from __future__ import annotations

from typing import Any

import pytest

from kehu.core.errors import NotFound
from kehu.core.testing.factories import Organisation
from kehu.notifications import selectors, services
from kehu.notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_notify_creates_one_per_active_recipient_and_dedupes(org: Organisation) -> None:
    org.colleague.is_active = False
    org.colleague.save()
    created = services.notify(
        recipients=[org.rep, org.colleague, org.rep, org.east_manager],
        kind="test",
        title="客户已分配",
        dedupe_key="assign:1",
    )
    assert created == 2
    again = services.notify(
        recipients=[org.rep, org.east_manager],
        kind="test",
        title="客户已分配",
        dedupe_key="assign:1",
    )
    assert again == 0
    assert Notification.objects.count() == 2
    # without a key every call notifies
    assert services.notify(recipients=[org.rep], kind="test", title="x") == 1
    assert selectors.unread_count(user=org.rep) == 2


def test_mark_read_and_all_read_only_touch_own(org: Organisation) -> None:
    services.notify(recipients=[org.rep, org.colleague], kind="t", title="a")
    services.notify(recipients=[org.rep], kind="t", title="b")
    mine = selectors.notification_list(user=org.rep).first()
    assert mine is not None
    services.notification_mark_read(user=org.rep, notification_id=mine.pk)
    assert selectors.unread_count(user=org.rep) == 1
    theirs = selectors.notification_list(user=org.colleague).get()
    with pytest.raises(NotFound):
        services.notification_mark_read(user=org.rep, notification_id=theirs.pk)
    assert services.notification_mark_all_read(user=org.rep) == 1
    assert selectors.unread_count(user=org.colleague) == 1


def test_notify_schedules_delivery_on_commit(
    org: Organisation, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.ALLOW_PRIVATE_WEBHOOKS = True  # a local receiver
    channel = services.channel_create(
        actor=org.rep, kind="wecom", target="http://127.0.0.1:9/unreachable"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.notify(recipients=[org.rep], kind="t", title="a")
    assert len(callbacks) == 1
    assert not channel.deliveries.exists()
