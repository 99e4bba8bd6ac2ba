"""The jobs of the rep-performance summary (imported by ``AnalyticsConfig.ready``)."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.analytics import summary


@db_periodic_task(crontab(minute="*/15"))
def summarise_activity_today() -> dict[str, Any]:
    """Summarise today up to now (and any day since the last mark)."""
    return summary.refresh(recent_days=0)


@db_periodic_task(crontab(hour="1", minute="20"))
def refresh_activity_summary() -> dict[str, Any]:
    """Recompute the recent days: records entered late, owners changed."""
    return summary.refresh()
