"""Replies leave by SMTP (a real aiosmtpd server): subject tag, Message-ID, threading."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.notifications.tests.servers import free_port, smtp_server
from kehu.service.models import Mailbox, TicketChannel, TicketMessage
from kehu.service.selectors import tickets as selectors
from kehu.service.services import tickets as services
from kehu.service.tests.tickets_support import Desk, make_desk

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(org: Organisation) -> Desk:
    return make_desk(org)


def use_smtp(settings: Any, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def smtp(settings: Any) -> Iterator[Any]:
    with smtp_server() as (mailbox, port):
        use_smtp(settings, port)
        yield mailbox


def test_reply_lands_in_smtp_with_tag_and_thread_headers(
    desk: Desk, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Mailbox.objects.create(
        name="售后",
        host="127.0.0.1",
        username="service",
        password="x",
        address="service@kehu.example.cn",
        department=desk.team_a,
    )
    ticket = services.ticket_create(
        actor=None,
        data={"subject": "打印机卡纸", "content": "每次打印都卡纸"},
        channel=TicketChannel.EMAIL,
        customer=desk.customer,
        contact=desk.contact,
        email_message_id="<first@customer.example.cn>",
        department=desk.team_a,
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.ticket_reply(actor=desk.agent, ticket=ticket, body="请清理进纸辊后再试。")
    assert len(smtp.messages) == 1
    envelope = smtp.messages[0]
    assert envelope.rcpt_tos == ["wang@example.cn"]
    assert envelope.mail_from == "service@kehu.example.cn"
    mail = message_from_bytes(envelope.content)
    assert str(make_header(decode_header(mail["Subject"]))) == f"[{ticket.number}] 打印机卡纸"
    assert mail["Message-ID"] == reply.email_message_id
    assert mail["In-Reply-To"] == "<first@customer.example.cn>"
    assert "<first@customer.example.cn>" in mail["References"]
    assert "请清理进纸辊后再试" in mail.get_payload(decode=True).decode()
    reply.refresh_from_db()
    assert reply.sent_at is not None
    assert reply.send_error == ""
    # the customer's answer to our reply finds the ticket by its Message-ID
    found = selectors.ticket_for_email(
        in_reply_to=reply.email_message_id, references=[], subject="Re: 打印机卡纸"
    )
    assert found == ticket


def test_note_is_never_mailed(
    desk: Desk, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = services.ticket_create(
        actor=desk.agent,
        data={"subject": "咨询", "content": "价格"},
        channel=TicketChannel.UI,
        customer=desk.customer,
        contact=desk.contact,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_note(actor=desk.agent, ticket=ticket, body="内部备注")
    assert smtp.messages == []


def test_failed_delivery_is_kept_on_the_reply(
    desk: Desk, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    use_smtp(settings, free_port())  # nothing listens there
    ticket = services.ticket_create(
        actor=desk.agent,
        data={"subject": "咨询", "content": "价格"},
        channel=TicketChannel.UI,
        customer=desk.customer,
        contact=desk.contact,
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.ticket_reply(actor=desk.agent, ticket=ticket, body="您好")
    stored = TicketMessage.objects.get(pk=reply.pk)
    assert stored.sent_at is None
    assert stored.send_error
