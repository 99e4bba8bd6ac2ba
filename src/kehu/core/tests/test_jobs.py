"""The job system: inline in tests, and through the real Redis broker when configured."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from kehu.core.tasks import purge_expired_sessions


def make_sessions() -> None:
    now = timezone.now()
    Session.objects.create(session_key="old", session_data="", expire_date=now - timedelta(days=1))
    Session.objects.create(session_key="new", session_data="", expire_date=now + timedelta(days=1))


@pytest.mark.django_db
def test_housekeeping_job_runs_inline_in_tests() -> None:
    make_sessions()
    assert purge_expired_sessions()() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["new"]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_job_goes_through_redis_and_a_worker() -> None:
    if not settings.REDIS_URL:
        pytest.skip("KEHU_REDIS_URL is not set (CI sets it on the PostgreSQL pass)")
    assert type(HUEY).__name__ == "RedisHuey"
    make_sessions()
    HUEY.immediate = False
    try:
        HUEY.flush()
        result = purge_expired_sessions()
        assert HUEY.pending_count() == 1
        assert Session.objects.count() == 2  # nothing ran yet: the job waits in Redis

        worker = threading.Thread(target=lambda: HUEY.execute(HUEY.dequeue()))
        worker.start()
        worker.join(timeout=30)
        assert result.get(blocking=True, timeout=30) == 1
        assert HUEY.pending_count() == 0
        assert list(Session.objects.values_list("session_key", flat=True)) == ["new"]
    finally:
        HUEY.flush()
        HUEY.immediate = True
