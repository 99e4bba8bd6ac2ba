"""Delivery through real channels: a local SMTP server and a local robot webhook server."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from kehu.core import config
from kehu.core.errors import InvalidInput
from kehu.core.testing.factories import Organisation
from kehu.notifications import services
from kehu.notifications.models import Channel, Delivery, DeliveryStatus, Notification
from kehu.notifications.tests.servers import robot_server, smtp_server

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def smtp(settings: Any) -> Any:
    with smtp_server() as (mailbox, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        yield mailbox


def test_email_goes_through_smtp(
    org: Organisation, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    org.rep.email = "rep@example.cn"
    org.rep.save()
    services.channel_create(actor=org.rep, kind="email")
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(
            recipients=[org.rep], kind="test", title="新线索已分配", body="请在1小时内确认"
        )
    assert len(smtp.messages) == 1
    envelope = smtp.messages[0]
    assert envelope.rcpt_tos == ["rep@example.cn"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "新线索已分配"
    assert "请在1小时内确认" in message.get_content()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 1


def test_dingtalk_signature_is_checked_by_the_robot(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    with robot_server(secret="SEC-test-secret") as (log, base):
        services.channel_create(
            actor=org.rep,
            kind="dingtalk",
            target=f"{base}/dingtalk/robot/send?access_token=abc",
            secret="SEC-test-secret",
        )
        services.channel_create(
            actor=org.colleague,
            kind="dingtalk",
            target=f"{base}/dingtalk/robot/send?access_token=abc",
            secret="wrong-secret",
        )
        with django_capture_on_commit_callbacks(execute=True):
            services.notify(recipients=[org.rep, org.colleague], kind="t", title="商机阶段变化")
    assert len(log.requests) == 2
    good = Delivery.objects.get(channel__user=org.rep)
    bad = Delivery.objects.get(channel__user=org.colleague)
    assert good.status == DeliveryStatus.SENT
    assert log.requests[0]["json"]["markdown"]["title"] == "商机阶段变化"
    assert bad.status == DeliveryStatus.RETRYING
    assert "310000" in bad.last_error
    # the in-app copy is there whatever happened to the channel
    assert Notification.objects.filter(recipient=org.colleague).count() == 1


def test_wecom_and_feishu(org: Organisation, django_capture_on_commit_callbacks: Any) -> None:
    with robot_server(secret="feishu-secret") as (log, base):
        services.channel_create(actor=org.rep, kind="wecom", target=f"{base}/wecom/send?key=k")
        services.channel_create(
            actor=org.rep, kind="feishu", target=f"{base}/feishu/hook/x", secret="feishu-secret"
        )
        with django_capture_on_commit_callbacks(execute=True):
            services.notify(recipients=[org.rep], kind="t", title="工单超时")
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 2
    paths = sorted(request["path"] for request in log.requests)
    assert paths == ["/feishu/hook/x", "/wecom/send"]


def test_failures_retry_with_backoff_then_fail_visibly(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    config.put("notifications.max_attempts", 3)
    config.put("notifications.retry_base_seconds", 10)
    with robot_server() as (log, base):
        services.channel_create(actor=org.rep, kind="wecom", target=f"{base}/wecom/send")
        log.fail_next = 10
        with django_capture_on_commit_callbacks(execute=True):
            services.notify(recipients=[org.rep], kind="t", title="提醒")
        delivery = Delivery.objects.get()
        assert delivery.status == DeliveryStatus.RETRYING
        assert "HTTP 503" in delivery.last_error
        assert services.delivery_attempt(delivery_id=delivery.pk) == 20.0  # backoff doubles
        assert services.delivery_attempt(delivery_id=delivery.pk) is None
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.attempts == 3
        # an admin sends it again once the robot is back
        log.fail_next = 0
        with django_capture_on_commit_callbacks(execute=True):
            services.delivery_retry(actor=org.admin, delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.SENT
    assert Notification.objects.filter(recipient=org.rep).count() == 1


def test_unreachable_smtp_is_logged(
    org: Organisation, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from kehu.notifications.tests.servers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 2
    services.channel_create(actor=org.rep, kind="email", target="rep@example.cn")
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipients=[org.rep], kind="t", title="提醒")
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING
    assert "Connection" in delivery.last_error or "refused" in delivery.last_error


def test_webhook_url_must_be_http(org: Organisation) -> None:
    for target in ["ftp://example.com/hook", "javascript:alert(1)", "oapi.dingtalk.com/robot", ""]:
        with pytest.raises(InvalidInput) as error:
            services.channel_create(actor=org.rep, kind="dingtalk", target=target)
        assert "target" in error.value.errors
    with pytest.raises(InvalidInput):
        services.channel_create(actor=org.rep, kind="email", target="not-an-address")
    with pytest.raises(InvalidInput):
        services.channel_create(actor=org.rep, kind="sms", target="")
    assert not Channel.objects.exists()


def test_daily_digest_once_per_day(
    org: Organisation, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    services.channel_create(actor=org.rep, kind="email", target="rep@example.cn", digest=True)
    day = datetime(2026, 5, 6, 15, 0, tzinfo=SHANGHAI)
    with time_machine.travel(day, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.notify(recipients=[org.rep], kind="t", title="任务一")
        services.notify(recipients=[org.rep], kind="t", title="任务二")
    assert smtp.messages == []  # digest channels get nothing immediately
    with time_machine.travel(day + timedelta(hours=18), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert services.digests_send() == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert services.digests_send() == 0
    assert len(smtp.messages) == 1
    message = email.message_from_bytes(smtp.messages[0].content, policy=email.policy.default)
    assert "2026-05-06" in message["Subject"]
    body = message.get_content()
    assert "任务一" in body
    assert "任务二" in body
