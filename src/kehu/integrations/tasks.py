"""Huey jobs of the integrations app: the fan-out of committed events to webhook deliveries and
each delivery with its retries (exponential backoff)."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task
from huey.exceptions import RetryTask

from kehu.core import events
from kehu.integrations.services import custom_fields, webhooks


def events_committed(committed: list[events.Event]) -> None:
    """The ``kehu.core.events`` listener: runs after the commit, in the writing request, so it
    only queues a job (``events`` asks ``webhooks.any_active`` first: no webhook, no event)."""
    webhooks_fanout([event.as_dict() for event in committed])


@db_task()
def webhooks_fanout(raw_events: list[dict[str, Any]]) -> int:
    ids = webhooks.fanout([events.Event.from_dict(raw) for raw in raw_events])
    for delivery_id in ids:
        webhook_deliver(delivery_id)
    return len(ids)


@db_task()
def webhook_deliver(delivery_id: int) -> bool:
    """Send one delivery; on failure retry later with exponential backoff."""
    wait = webhooks.delivery_attempt(delivery_id=delivery_id)
    if wait is not None:
        raise RetryTask(delay=wait)
    return True


@db_periodic_task(crontab(hour="3", minute="20"))
def custom_fields_purge() -> int:
    """Nightly: fields deleted more than 30 days ago go, with their values."""
    return custom_fields.custom_fields_purge()
