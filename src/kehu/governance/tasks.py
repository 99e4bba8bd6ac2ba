"""Jobs of the governance app: the retention workflow's daily run and the destruction of an
approved review list, the audit trail's purge, the daily backup with its rotation."""

from __future__ import annotations

import logging
from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.context import acting_context, new_request_id
from kehu.governance.services import audit as audit_services
from kehu.governance.services import backups, retention

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(hour="3", minute="40"))
def retention_daily() -> dict[str, Any]:
    """Prepare next month's review list on the review day; destroy approved records now due."""
    return retention.retention_daily()


@db_task()
def retention_execute(batch_id: int) -> dict[str, int]:
    return retention.batch_execute(batch_id=batch_id)


@db_periodic_task(crontab(hour="3", minute="41"))
def audit_purge() -> int:
    """Nightly: drop the audit entries past ``governance.audit_retention_years``."""
    return audit_services.audit_purge_expired().deleted


@db_periodic_task(crontab(minute="*/10"))
def backup_daily() -> str:
    """Every 10 minutes: once a day, past ``governance.backup_time``, write the archive into
    ``governance.backup_dir`` and keep the newest ``governance.backup_keep``. A failure is
    recorded (the backups page shows it) and not retried before the next day."""
    with acting_context(new_request_id("job")):
        try:
            result = backups.backup_scheduled()
        except backups.BackupFailed as error:
            logger.error("daily backup failed: %s", error.detail)
            return "failed"
    return "" if result is None else str(result.path)
