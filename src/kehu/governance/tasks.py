"""Huey jobs of the governance app: the retention workflow's daily run and the destruction of
an approved review list."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.governance.services import retention


@db_periodic_task(crontab(hour="3", minute="40"))
def retention_daily() -> dict[str, Any]:
    """Prepare next month's review list on the review day; destroy approved records now due."""
    return retention.retention_daily()


@db_task()
def retention_execute(batch_id: int) -> dict[str, int]:
    return retention.batch_execute(batch_id=batch_id)
