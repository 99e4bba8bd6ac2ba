"""Huey jobs of the service app; the bodies are idempotent service functions."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.service.services.handovers import handovers_escalate


@db_periodic_task(crontab(minute="*/15"))
def escalate_unconfirmed_handovers() -> int:
    """Handovers awaiting confirmation past ``service.handover_confirm_hours``: escalated once."""
    return handovers_escalate()
