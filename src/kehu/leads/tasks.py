"""Scheduled lead jobs: the daily batch assignment, the confirmation SLA, overdue warnings.

The batch checks every few minutes whether today's configured time (``leads.batch_time``,
default 09:00 local) has passed and runs once per day, so admins can move the time without
a restart. Each job is idempotent: running it twice changes nothing the second time.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.core.context import acting_context, new_request_id
from kehu.leads import services


@db_periodic_task(crontab(minute="*/5"))
def assign_pooled_leads() -> int:
    with acting_context(new_request_id("job")):
        run = services.assignment_batch_if_due()
    return run.assigned if run is not None else 0


@db_periodic_task(crontab(minute="*"))
def check_confirmation_sla() -> int:
    with acting_context(new_request_id("job")):
        return services.sla_check()


@db_periodic_task(crontab(minute="*/15"))
def check_first_contact_deadlines() -> int:
    with acting_context(new_request_id("job")):
        return services.overdue_check()
