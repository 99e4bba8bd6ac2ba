"""The nightly rebuild of the pipeline summaries (``services.pipeline``)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.analytics.services.pipeline import deal_stats_rebuild, stage_entries_rebuild
from kehu.core.context import acting_context, new_request_id


@db_periodic_task(crontab(hour="3", minute="40"))
def rebuild_deal_followup_stats() -> int:
    with acting_context(new_request_id("job")):
        return stage_entries_rebuild() + deal_stats_rebuild()
