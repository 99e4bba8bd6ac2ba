"""Huey jobs of the service app."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from kehu.service.services import mail


# --- E-mail to ticket --------------------------------------------------------------------------
@db_periodic_task(crontab(minute="*"))
@lock_task("service-poll-mailboxes")
def poll_mailboxes() -> dict[str, int]:
    """Read the active inbound mailboxes into tickets, every minute (one poll at a time)."""
    return mail.poll_active_mailboxes()
