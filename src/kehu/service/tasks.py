"""Huey jobs of the service app; the bodies are idempotent service functions."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from kehu.service.services import calendar, mail, sla
from kehu.service.services.handovers import handovers_escalate


@db_periodic_task(crontab(minute="*/5"))
def check_sla() -> dict[str, int]:
    """Warn before the SLA due times of open tickets and escalate their breaches."""
    return sla.sla_check()


@db_periodic_task(crontab(day="1", hour="3", minute="20"))
def refresh_business_calendar() -> dict[str, int]:
    """Load the coming years' public holidays and 调休 (monthly: the State Council publishes
    the next year's schedule in November, and a new package release brings it)."""
    return calendar.calendar_refresh()


@db_periodic_task(crontab(minute="*/15"))
def escalate_unconfirmed_handovers() -> int:
    """Handovers awaiting confirmation past ``service.handover_confirm_hours``: escalated once."""
    return handovers_escalate()


@db_periodic_task(crontab(minute="*"))
@lock_task("service-poll-mailboxes")
def poll_mailboxes() -> dict[str, int]:
    """Read the active inbound mailboxes into tickets, every minute (one poll at a time)."""
    return mail.poll_active_mailboxes()
