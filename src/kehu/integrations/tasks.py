"""Huey jobs of the integrations app: the fan-out of committed events to webhook deliveries,
their delivery in batches over kept connections, and each failed delivery's retries
(exponential backoff)."""

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
    """The deliveries of a transaction's events, queued ``webhooks.BATCH`` a job: a job per
    delivery cost a queue round trip and a read each (4 deliveries/s with 4 workers)."""
    ids = webhooks.fanout([events.Event.from_dict(raw) for raw in raw_events])
    for start in range(0, len(ids), webhooks.BATCH):
        webhook_deliver_batch(ids[start : start + webhooks.BATCH])
    return len(ids)


@db_task()
def webhook_deliver_batch(delivery_ids: list[int]) -> int:
    """Send a batch once each; a failed delivery is retried on its own, after its backoff."""
    waits = webhooks.deliver_batch(delivery_ids)
    for delivery_id, wait in waits.items():
        webhook_deliver.schedule((delivery_id,), delay=wait)
    return len(delivery_ids) - len(waits)


@db_task()
def webhook_deliver(delivery_id: int) -> bool:
    """Send one delivery (a retry, a manual redelivery); on failure retry later with
    exponential backoff."""
    wait = webhooks.delivery_attempt(delivery_id=delivery_id)
    if wait is not None:
        raise RetryTask(delay=wait)
    return True


@db_periodic_task(crontab(hour="3", minute="20"))
def custom_fields_purge() -> int:
    """Nightly: fields deleted more than 30 days ago go, with their values."""
    return custom_fields.custom_fields_purge()
