"""Huey jobs of the notifications app: channel delivery with retries and the daily digest."""

from __future__ import annotations

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task
from huey.exceptions import RetryTask

from kehu.core import config
from kehu.notifications import services


@db_task()
def deliver(delivery_id: int) -> bool:
    """Send one delivery; on failure retry later with exponential backoff."""
    wait = services.delivery_attempt(delivery_id=delivery_id)
    if wait is not None:
        raise RetryTask(delay=wait)
    return True


@db_periodic_task(crontab(minute="0"))
def send_daily_digests() -> int:
    """Hourly tick; sends the digests once the configured hour is reached (idempotent per day)."""
    if timezone.localtime().hour < int(config.get(services.DIGEST_HOUR.key)):
        return 0
    return services.digests_send()
