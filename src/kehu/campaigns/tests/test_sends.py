"""The send pipeline against a real SMTP server (aiosmtpd): consent partition, rendering,
one connection per batch, refused recipients, throttling, scheduling, test sends, touches."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.utils import timezone, translation

from kehu.campaigns.models import (
    Channel,
    ConsentStatus,
    Message,
    MessageStatus,
    MessageTemplate,
    Send,
    SendStatus,
    Touch,
    TouchKind,
)
from kehu.campaigns.services import sends
from kehu.campaigns.tests.outreach_support import (
    add_contact_member,
    make_campaign,
    make_template,
    smtp_sink,
)
from kehu.core import config
from kehu.core.errors import Conflict, Forbidden, InvalidInput
from kehu.core.testing.factories import Organisation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The messages asserted below are the English ones, whatever an earlier test activated."""
    with translation.override("en"):
        yield


@pytest.fixture
def sink(settings: Any) -> Any:
    with smtp_sink(settings) as running:
        yield running


def _campaign_with_people(org: Organisation) -> Any:
    org.rep.mobile = "13900000001"
    org.rep.save()
    campaign = make_campaign(org.marketing)
    add_contact_member(
        campaign,
        org.rep,
        name="王伟",
        gender="m",
        email="wang@example.cn",
        company="华瑞精工有限公司",
    )
    add_contact_member(campaign, org.rep, name="欧阳娜娜", gender="f", email="ouyang@example.cn")
    add_contact_member(
        campaign, org.rep, name="李雷", email="li@example.cn", consent=ConsentStatus.WITHDRAWN
    )
    add_contact_member(campaign, org.rep, name="赵敏", email="zhao@example.cn", consent=None)
    add_contact_member(campaign, org.rep, name="钱多", email="")
    return campaign


def test_email_send_reaches_consenting_members_only(
    org: Organisation, sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = _campaign_with_people(org)
    template = make_template(org.marketing)
    with django_capture_on_commit_callbacks(execute=True):
        send = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk
        )
    send.refresh_from_db()
    assert send.skipped == {"unsubscribed": 1, "no_consent": 1, "no_address": 1}
    assert (send.status, send.total, send.sent, send.failed) == (SendStatus.DONE, 2, 2, 0)
    assert set(Message.objects.filter(send=send).values_list("status", flat=True)) == {"sent"}
    mails = {mail["To"]: mail for mail in sink.parsed()}
    assert set(mails) == {"wang@example.cn", "ouyang@example.cn"}
    wang = mails["wang@example.cn"]
    assert wang["Subject"].strip() == "王先生，邀请您参加2026 智能制造展"
    body = wang.get_content()
    assert "王先生您好" in body
    assert "华瑞精工有限公司" in body
    assert "13900000001" in body
    assert "/marketing/u/" in body
    assert "/marketing/u/" in wang["List-Unsubscribe"]
    assert wang["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mails["ouyang@example.cn"]["Subject"].strip().startswith("欧阳女士")
    touches = Touch.objects.filter(campaign=campaign, kind=TouchKind.MESSAGE)
    assert touches.count() == 2
    assert all(touch.customer_id for touch in touches)


def test_one_smtp_connection_per_batch(
    org: Organisation, sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    config.put(sends.SEND_BATCH_SIZE.key, 2)
    campaign = make_campaign(org.marketing)
    for n in range(5):
        add_contact_member(campaign, org.rep, name=f"孙{n}", email=f"p{n}@example.cn")
    template = make_template(org.marketing)
    with django_capture_on_commit_callbacks(execute=True):
        send = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk
        )
    send.refresh_from_db()
    assert send.sent == 5
    assert sink.sessions == 3  # batches of 2, 2 and 1


def test_refused_recipient_fails_with_the_reason(
    org: Organisation, sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, name="王伟", email="ok@example.cn")
    add_contact_member(campaign, org.rep, name="李娜", email="gone@example.cn")
    sink.refuse.add("gone@example.cn")
    template = make_template(org.marketing)
    with django_capture_on_commit_callbacks(execute=True):
        send = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk
        )
    send.refresh_from_db()
    assert (send.sent, send.failed, send.status) == (1, 1, SendStatus.DONE)
    failed = Message.objects.get(send=send, status=MessageStatus.FAILED)
    assert failed.address == "gone@example.cn"
    assert "550" in failed.reason
    assert Touch.objects.filter(campaign=campaign, kind=TouchKind.MESSAGE).count() == 1


def test_mail_server_down_fails_every_message_with_the_reason(
    org: Organisation, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from kehu.notifications.tests.servers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 2
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, email="a@example.cn")
    add_contact_member(campaign, org.rep, name="李娜", email="b@example.cn")
    template = make_template(org.marketing)
    with django_capture_on_commit_callbacks(execute=True):
        send = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk
        )
    send.refresh_from_db()
    assert (send.sent, send.failed, send.status) == (0, 2, SendStatus.DONE)
    reasons = set(Message.objects.filter(send=send).values_list("reason", flat=True))
    assert len(reasons) == 1
    assert "refused" in next(iter(reasons)).lower()


def test_zero_reachable_is_a_clear_422_and_creates_nothing(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, email="x@example.cn", consent=ConsentStatus.WITHDRAWN)
    template = make_template(org.marketing)
    with pytest.raises(InvalidInput) as raised:
        sends.send_create(actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk)
    assert raised.value.code == "no_recipients"
    assert raised.value.extra["skipped"] == {"unsubscribed": 1}
    assert "unsubscribed: 1" in raised.value.detail
    assert not Send.objects.exists()
    assert not Message.objects.exists()


def test_unknown_merge_field_stops_the_send_before_anything(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, email="x@example.cn")
    # Written around the service (an old row): the send still refuses it
    template = make_template(org.marketing, body="{{ salutation }} {{ coupon }}")
    with pytest.raises(InvalidInput) as raised:
        sends.send_create(actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk)
    assert "{{ coupon }}" in raised.value.errors["body"][0]
    assert not Send.objects.exists()


def test_channel_must_match_the_template(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    template = make_template(org.marketing)
    with pytest.raises(InvalidInput) as raised:
        sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk, channel="sms"
        )
    assert "channel" in raised.value.errors


def test_reps_do_not_send(org: Organisation) -> None:
    campaign = make_campaign(org.rep)
    template = make_template(org.marketing)
    with pytest.raises(Forbidden):
        sends.send_create(actor=org.rep, campaign_id=campaign.pk, template_id=template.pk)


def test_throttle_keeps_to_the_rate(
    org: Organisation, sink: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    config.put(sends.SEND_PER_MINUTE.key, 60)
    config.put(sends.SEND_BATCH_SIZE.key, 1)
    config.put(sends.SEND_CONNECTIONS.key, 1)
    waits: list[float] = []
    monkeypatch.setattr(sends.time, "sleep", waits.append)
    campaign = make_campaign(org.marketing)
    for n in range(3):
        add_contact_member(campaign, org.rep, name=f"周{n}", email=f"t{n}@example.cn")
    template = make_template(org.marketing)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        sends.send_create(actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk)
    elapsed = time.monotonic() - started
    # 60 a minute, one a batch: after the n-th message the send waits until n seconds have
    # passed since its start (the recorded sleeps do not pass time, so they add up)
    assert len(waits) == 3
    assert all(wait <= n for n, wait in enumerate(waits, 1))
    assert waits[-1] >= 3 - elapsed
    assert sink.sessions == 3


def test_scheduled_send_starts_when_due_and_cancel_before(
    org: Organisation, sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, email="a@example.cn")
    template = make_template(org.marketing)
    at = timezone.now() + datetime.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        later = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk, scheduled_for=at
        )
        cancelled = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk, scheduled_for=at
        )
    assert later.status == SendStatus.SCHEDULED
    assert not sink.messages
    sends.send_cancel(actor=org.marketing, send_id=cancelled.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert sends.start_due() == []
    with (
        time_machine.travel(at + datetime.timedelta(minutes=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sends.start_due() == [later.pk]
    later.refresh_from_db()
    cancelled.refresh_from_db()
    assert (later.status, later.sent) == (SendStatus.DONE, 1)
    assert (cancelled.status, cancelled.sent) == (SendStatus.CANCELLED, 0)
    assert len(sink.messages) == 1
    with pytest.raises(Conflict):
        sends.send_cancel(actor=org.marketing, send_id=later.pk)


def test_schedule_in_the_past_is_refused(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, email="a@example.cn")
    template = make_template(org.marketing)
    with pytest.raises(InvalidInput) as raised:
        sends.send_create(
            actor=org.marketing,
            campaign_id=campaign.pk,
            template_id=template.pk,
            scheduled_for=timezone.now() - datetime.timedelta(minutes=5),
        )
    assert "scheduled_for" in raised.value.errors


def test_test_send_goes_to_oneself_with_a_member_and_no_touch(
    org: Organisation, sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    org.marketing.email = "me@example.cn"
    org.marketing.save()
    campaign = make_campaign(org.marketing)
    member = add_contact_member(campaign, org.rep, name="李娜", gender="f", email="li@example.cn")
    template = make_template(org.marketing)
    with django_capture_on_commit_callbacks(execute=True):
        send = sends.send_test(
            actor=org.marketing,
            campaign_id=campaign.pk,
            template_id=template.pk,
            member_id=member.pk,
        )
    send.refresh_from_db()
    assert (send.is_test, send.sent) == (True, 1)
    (mail,) = sink.parsed()
    assert mail["To"] == "me@example.cn"
    assert "李女士" in mail["Subject"]
    assert mail["Subject"].strip().startswith("[Test]")
    assert not Touch.objects.exists()


def test_test_send_without_own_address_is_refused(org: Organisation) -> None:
    org.marketing.email = ""
    org.marketing.save()
    campaign = make_campaign(org.marketing)
    template = make_template(org.marketing)
    with pytest.raises(InvalidInput):
        sends.send_test(actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk)
    assert not Send.objects.exists()


def test_sms_without_a_backend_fails_each_message_with_the_reason(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    from kehu.campaigns.channels import base

    if sends._backend_name(Channel.SMS) in base.names():
        pytest.skip("an SMS back-end is registered; its own tests cover it")
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, mobile="13800000001", channel=Channel.SMS)
    template = make_template(org.marketing, channel=Channel.SMS, subject="", body="{{ 称呼 }}您好")
    with django_capture_on_commit_callbacks(execute=True):
        send = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk
        )
    send.refresh_from_db()
    assert (send.sent, send.failed) == (0, 1)
    assert "no channel back-end" in Message.objects.get(send=send).reason


def test_the_request_writes_no_message_and_the_job_prepares(
    org: Organisation, sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = _campaign_with_people(org)
    template = make_template(org.marketing)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        send = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk
        )
    # Until the job runs: queued, preparing, nothing written, counters 0
    send.refresh_from_db()
    assert (send.status, send.preparing, send.total, send.skipped) == (
        SendStatus.QUEUED,
        True,
        0,
        {},
    )
    assert not Message.objects.filter(send=send).exists()
    assert len(callbacks) == 1
    callbacks[0]()
    send.refresh_from_db()
    assert (send.status, send.preparing, send.total, send.sent) == (SendStatus.DONE, False, 2, 2)
    assert send.skipped == {"unsubscribed": 1, "no_consent": 1, "no_address": 1}
    assert send.prepared_at is not None
    assert len(sink.messages) == 2


def test_the_request_is_a_fixed_number_of_queries_whatever_the_members(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    campaign = make_campaign(org.marketing)
    for n in range(sends.PROBE_FIRST_WINDOW + 30):
        add_contact_member(campaign, org.rep, name=f"吴{n}", email=f"q{n}@example.cn")
    template = make_template(org.marketing)
    with django_assert_max_num_queries(12):
        send = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk
        )
    assert not Message.objects.filter(send=send).exists()
    assert MessageTemplate.objects.count() == 1


def test_the_job_writes_the_messages_in_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    campaign = make_campaign(org.marketing)
    for n in range(30):
        add_contact_member(campaign, org.rep, name=f"吴{n}", email=f"q{n}@example.cn")
    template = make_template(org.marketing)
    send = sends.send_create(actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk)
    with django_assert_max_num_queries(6):
        sends._prepare(send)
    assert Message.objects.filter(send=send).count() == 30
    send.refresh_from_db()
    assert (send.total, send.preparing) == (30, False)


def test_reachable_found_beyond_the_first_window_and_reasons_over_all(
    org: Organisation, monkeypatch: Any
) -> None:
    monkeypatch.setattr(sends, "PROBE_FIRST_WINDOW", 2)
    monkeypatch.setattr(sends, "PROBE_GROWTH", 2)
    campaign = make_campaign(org.marketing)
    for n in range(5):
        add_contact_member(campaign, org.rep, name=f"冯{n}", email=f"f{n}@example.cn", consent=None)
    add_contact_member(campaign, org.rep, name="褚", email="", consent=ConsentStatus.GRANTED)
    template = make_template(org.marketing)
    with pytest.raises(InvalidInput) as raised:
        sends.send_create(actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk)
    assert raised.value.code == "no_recipients"
    assert raised.value.extra["skipped"] == {"no_consent": 5, "no_address": 1}
    add_contact_member(campaign, org.rep, name="卫", email="last@example.cn")
    send = sends.send_create(actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk)
    assert send.status == SendStatus.QUEUED


def test_consent_withdrawn_before_the_job_is_honoured(
    org: Organisation, sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from kehu.campaigns.models import Consent

    campaign = make_campaign(org.marketing)
    member = add_contact_member(campaign, org.rep, email="only@example.cn")
    template = make_template(org.marketing)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        send = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk
        )
    Consent.objects.filter(contact=member.contact).update(status=ConsentStatus.WITHDRAWN)
    callbacks[0]()
    send.refresh_from_db()
    assert (send.status, send.total, send.sent, send.skipped) == (
        SendStatus.DONE,
        0,
        0,
        {"unsubscribed": 1},
    )
    assert not sink.messages


def test_a_merge_value_cannot_add_a_header(
    org: Organisation, sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, name="王伟\r\nBcc: evil@example.cn", email="w@example.cn")
    template = make_template(org.marketing, subject="{{ name }}")
    with django_capture_on_commit_callbacks(execute=True):
        sends.send_create(actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk)
    (envelope,) = sink.messages
    assert envelope.rcpt_tos == ["w@example.cn"]
    (mail,) = sink.parsed()
    assert mail["Bcc"] is None
    assert "evil@example.cn" in str(mail["Subject"])
