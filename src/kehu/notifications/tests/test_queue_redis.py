"""The delivery job through the real Redis queue and a worker loop (CI's PostgreSQL pass)."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from kehu.core.testing.factories import Organisation
from kehu.notifications import services
from kehu.notifications.models import Delivery, DeliveryStatus
from kehu.notifications.tests.servers import robot_server

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="KEHU_REDIS_URL is not set"),
]


def test_delivery_job_runs_through_redis_and_a_worker(org: Organisation) -> None:
    from huey.contrib.djhuey import HUEY

    from kehu.notifications.tasks import deliver

    was_immediate = HUEY.immediate
    HUEY.immediate = False
    stop = threading.Event()
    executed: list[str] = []

    def worker() -> None:
        try:
            while not stop.is_set():
                task = HUEY.dequeue()
                if task is None:
                    stop.wait(0.05)
                    continue
                executed.append(task.name)
                HUEY.execute(task)
        finally:
            connection.close()

    try:
        with robot_server() as (log, base):
            channel = services.channel_create(actor=org.rep, kind="wecom", target=f"{base}/wecom")
            delivery = Delivery.objects.create(
                channel=channel, subject="队列测试", text="经 Redis 投递", dedupe_key="redis-test"
            )
            result = deliver(delivery.pk)
            assert HUEY.pending_count() >= 1  # it sits in Redis until a worker takes it
            thread = threading.Thread(target=worker, daemon=True)
            thread.start()
            assert result.get(blocking=True, timeout=20) is True
            stop.set()
            thread.join(timeout=10)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.SENT
        assert log.requests[0]["json"]["markdown"]["content"].startswith("**队列测试**")
        assert "deliver" in executed
    finally:
        stop.set()
        HUEY.immediate = was_immediate
