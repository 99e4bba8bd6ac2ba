"""Huey jobs of the campaigns app: deliver a send, start the scheduled sends that are due."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.campaigns.services import sends


@db_task()
def run_send(send_id: int) -> int:
    """Render and deliver a queued send in batches (``services.sends.send_run``)."""
    send = sends.send_run(send_id)
    return send.sent if send is not None else 0


@db_periodic_task(crontab(minute="*"))
def start_due_sends() -> int:
    """Every minute: queue the scheduled sends whose time has come."""
    return len(sends.start_due())
