"""Pool jobs: the daily recycle run (warnings D days ahead, then returns to the pool)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.pools import services


@db_periodic_task(crontab(hour="2", minute="40"))
def recycle_pools() -> int:
    """Return customers without follow-up / deal to their pool; returns how many moved."""
    return len(services.pool_recycle_run().recycled)
