"""The nightly job of the rep-performance summary (imported by ``AnalyticsConfig.ready``)."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.analytics import summary


@db_periodic_task(crontab(hour="1", minute="20"))
def refresh_activity_summary() -> dict[str, Any]:
    """Recompute the recent days of ``ActivityDay`` and move its mark to today."""
    return summary.refresh()
