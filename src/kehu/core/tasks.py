"""Housekeeping jobs of the platform itself."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def purge_expired_sessions() -> int:
    """Delete expired sign-in sessions; returns how many went."""
    deleted, _detail = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@db_periodic_task(crontab(hour="3", minute="17"))
def nightly_housekeeping() -> None:
    purge_expired_sessions.call_local()
