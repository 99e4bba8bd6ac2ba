"""Jobs of the governance app."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.governance.services import audit as audit_services


@db_periodic_task(crontab(hour="3", minute="41"))
def audit_purge() -> int:
    """Nightly: drop the audit entries past ``governance.audit_retention_years``."""
    return audit_services.audit_purge_expired().deleted
