"""E-mail to ticket against a real IMAP server (dovecot, started by the ``imap_server`` fixture)."""

from __future__ import annotations

import base64
import itertools
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from django.utils import timezone, translation

from kehu.core.testing.factories import Organisation
from kehu.service import tasks
from kehu.service.models import (
    InboundEmail,
    Mailbox,
    MessageKind,
    Ticket,
    TicketChannel,
    TicketMessage,
    TicketStatus,
)
from kehu.service.services import mail, tickets
from kehu.service.tests.conftest import ImapServer
from kehu.service.tests.tickets_support import Desk, make_customer, make_desk

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The services' messages are compared in English (the site's default is zh-hans)."""
    with translation.override("en"):
        yield


@pytest.fixture
def desk(org: Organisation) -> Desk:
    return make_desk(org)


def make_mailbox(server: ImapServer, desk: Desk | None = None, **values: object) -> Mailbox:
    data: dict[str, object] = {
        "name": "售后邮箱",
        "host": server.host,
        "port": server.port,
        "use_ssl": False,
        "username": server.username,
        "password": server.password,
        "folder": "INBOX",
        "address": "support@kehu.test",
        "department": desk.team_a if desk else None,
        **values,
    }
    return Mailbox.objects.create(**data)


def email(
    sender: str = "wang@example.cn",
    subject: str = "打印机无法联网",
    body: str = "设备型号 KH-200，从昨天开始无法联网。",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@kehu.test"
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", f"<m{next(_ids)}.{id(message)}@example.cn>")
    message["Date"] = "Sun, 06 Dec 2026 09:00:00 +0800"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def test_new_email_becomes_a_ticket_for_the_contacts_customer(
    imap_inbox: ImapServer, desk: Desk
) -> None:
    box = make_mailbox(imap_inbox, desk)
    first = email(sender="王经理 <Wang@Example.cn>")
    imap_inbox.append(first)

    result = mail.mailbox_poll(box)

    assert (result.fetched, result.created, result.replies, result.error) == (1, 1, 0, "")
    ticket = Ticket.objects.get()
    assert ticket.channel == TicketChannel.EMAIL
    assert ticket.customer == desk.customer
    assert ticket.contact == desk.contact
    assert ticket.requester_email == "wang@example.cn"
    assert ticket.requester_name == "王经理"
    assert ticket.subject == "打印机无法联网"
    assert ticket.department == desk.team_a
    message = ticket.messages.get()
    assert message.kind == MessageKind.INBOUND
    assert message.email_message_id == first["Message-ID"]
    inbound = InboundEmail.objects.get()
    assert (inbound.ticket, inbound.is_reply, inbound.mailbox) == (ticket, False, box)
    box.refresh_from_db()
    assert box.last_uid > 0
    assert box.uid_validity == imap_inbox.uidvalidity()
    assert box.last_error == ""
    assert box.last_polled_at is not None


def test_reply_email_stays_on_the_ticket_thread(imap_inbox: ImapServer, desk: Desk) -> None:
    box = make_mailbox(imap_inbox, desk)
    first = email()
    imap_inbox.append(first)
    mail.mailbox_poll(box)
    ticket = Ticket.objects.get()
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.WAITING)

    # A reply by its headers, with the quoted original under it.
    imap_inbox.append(
        email(
            subject="Re: 打印机无法联网",
            body="重启后还是不行。\n\n在 2026年12月6日 09:00，客服 写道：\n> 请重启设备",
            In_Reply_To=first["Message-ID"],
            References=first["Message-ID"],
        )
    )
    # A reply known only by the ticket number in the subject.
    by_number = email(subject=f"回复: [{ticket.number}] 打印机无法联网", body="补充：型号 200")
    imap_inbox.append(by_number)
    result = mail.mailbox_poll(box)

    assert (result.fetched, result.created, result.replies) == (2, 0, 2)
    assert Ticket.objects.count() == 1
    bodies = list(ticket.messages.order_by("id").values_list("body", flat=True))
    assert bodies[1:] == ["重启后还是不行。", "补充：型号 200"]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS  # the customer answered: the SLA resumes
    assert InboundEmail.objects.filter(is_reply=True, ticket=ticket).count() == 2


def test_unknown_sender_lands_in_triage(imap_inbox: ImapServer, desk: Desk) -> None:
    box = make_mailbox(imap_inbox, desk)
    imap_inbox.append(email(sender="Stranger <nobody@unknown.example>", subject="询价"))

    mail.mailbox_poll(box)

    ticket = Ticket.objects.get()
    assert ticket.customer is None
    assert ticket.requester_email == "nobody@unknown.example"
    assert ticket.channel == TicketChannel.EMAIL


def test_sender_shared_by_two_customers_is_triaged(imap_inbox: ImapServer, desk: Desk) -> None:
    make_customer(desk.org.rep, email="wang@example.cn")
    box = make_mailbox(imap_inbox, desk)
    imap_inbox.append(email())
    mail.mailbox_poll(box)
    assert Ticket.objects.get().customer is None


def test_gbk_encoded_message(imap_inbox: ImapServer, desk: Desk) -> None:
    box = make_mailbox(imap_inbox, desk)
    subject = "=?GB2312?B?" + base64.b64encode("镕钢设备报修".encode("gbk")).decode() + "?="
    body = "您好：\r\n我司镕钢生产线的控制器报警，请派人检修。\r\n"
    raw = (
        "From: =?GBK?B?" + base64.b64encode("王经理".encode("gbk")).decode() + "?= "
        "<wang@example.cn>\r\n"
        f"To: support@kehu.test\r\nSubject: {subject}\r\nMessage-ID: <gbk1@example.cn>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=gb2312\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(body.encode("gbk"))
    imap_inbox.append(raw)

    mail.mailbox_poll(box)

    ticket = Ticket.objects.get()
    assert ticket.subject == "镕钢设备报修"
    assert ticket.content == "您好：\n我司镕钢生产线的控制器报警，请派人检修。"
    assert ticket.requester_name == "王经理"
    assert ticket.customer == desk.customer


def test_html_only_message_becomes_text(imap_inbox: ImapServer, desk: Desk) -> None:
    box = make_mailbox(imap_inbox, desk)
    message = email()
    message.set_content("<p>第一行</p><p>第二行<br>第三行</p>", subtype="html")
    imap_inbox.append(message)
    mail.mailbox_poll(box)
    assert Ticket.objects.get().content == "第一行\n\n第二行\n第三行"


def test_same_message_polled_twice_makes_one_ticket(imap_inbox: ImapServer, desk: Desk) -> None:
    box = make_mailbox(imap_inbox, desk)
    message = email()
    imap_inbox.append(message)
    assert mail.mailbox_poll(box).created == 1
    assert mail.mailbox_poll(box).fetched == 0  # nothing new by UID

    # The same message delivered again (a new UID), and the bookmark lost: still one ticket.
    imap_inbox.append(message)
    Mailbox.objects.filter(pk=box.pk).update(last_uid=0)
    box.refresh_from_db()
    result = mail.mailbox_poll(box)
    assert (result.fetched, result.created, result.skipped) == (2, 0, 2)
    assert Ticket.objects.count() == 1
    assert InboundEmail.objects.count() == 1


def test_uidvalidity_change_restarts_without_duplicates(
    imap_server: ImapServer, desk: Desk
) -> None:
    folder = f"Support{next(_ids)}"
    imap_server.create(folder)
    box = make_mailbox(imap_server, desk, folder=folder)
    old = email(subject="旧邮件")
    imap_server.append(old, folder)
    mail.mailbox_poll(box)
    box.refresh_from_db()
    validity = box.uid_validity

    imap_server.reset_uidvalidity(folder)  # the server renumbers the folder
    imap_server.append(old, folder)
    imap_server.append(email(subject="新邮件"), folder)
    result = mail.mailbox_poll(box)

    box.refresh_from_db()
    assert box.uid_validity != validity
    assert box.uid_validity == imap_server.uidvalidity(folder)
    assert box.last_uid == 2
    assert (result.fetched, result.created, result.skipped) == (2, 1, 1)
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["新邮件", "旧邮件"]


def test_server_down_or_refusing_is_recorded_and_nothing_is_lost(
    imap_inbox: ImapServer, desk: Desk
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    box = make_mailbox(imap_inbox, desk, port=closed_port)
    imap_inbox.append(email(subject="服务器宕机期间的邮件"))

    result = mail.mailbox_poll(box)
    box.refresh_from_db()
    assert result.error
    assert "Could not connect" in box.last_error
    assert box.last_polled_at is not None

    Mailbox.objects.filter(pk=box.pk).update(port=imap_inbox.port, password="wrong")
    box.refresh_from_db()
    result = mail.mailbox_poll(box)
    box.refresh_from_db()
    assert result.created == 0
    assert box.last_error == "The server refused the user name or password."
    assert not Ticket.objects.exists()

    # The folder does not exist.
    Mailbox.objects.filter(pk=box.pk).update(password=imap_inbox.password, folder="Nope")
    box.refresh_from_db()
    mail.mailbox_poll(box)
    box.refresh_from_db()
    assert "Nope" in box.last_error

    # Fixed: the message waiting on the server becomes its ticket and the error clears.
    Mailbox.objects.filter(pk=box.pk).update(folder="INBOX")
    box.refresh_from_db()
    assert mail.mailbox_poll(box).created == 1
    box.refresh_from_db()
    assert box.last_error == ""
    assert Ticket.objects.get().subject == "服务器宕机期间的邮件"


def test_reply_to_a_closed_ticket_opens_a_new_one(imap_inbox: ImapServer, desk: Desk) -> None:
    box = make_mailbox(imap_inbox, desk)
    first = email()
    imap_inbox.append(first)
    mail.mailbox_poll(box)
    old = Ticket.objects.get()
    Ticket.objects.filter(pk=old.pk).update(status=TicketStatus.CLOSED, closed_at=timezone.now())

    imap_inbox.append(
        email(
            subject=f"Re: [{old.number}] 打印机无法联网",
            body="又坏了",
            In_Reply_To=first["Message-ID"],
        )
    )
    result = mail.mailbox_poll(box)

    assert (result.created, result.replies) == (1, 0)
    new = Ticket.objects.exclude(pk=old.pk).get()
    assert old.number in new.content
    assert "又坏了" in new.content
    assert old.number not in new.subject
    assert new.customer == desk.customer
    assert TicketMessage.objects.filter(ticket=old).count() == 1


def test_own_mail_and_auto_replies_make_no_ticket(imap_inbox: ImapServer, desk: Desk) -> None:
    box = make_mailbox(imap_inbox, desk)
    imap_inbox.append(email(sender="support@kehu.test"))
    imap_inbox.append(email(subject="Out of office", Auto_Submitted="auto-replied"))
    result = mail.mailbox_poll(box)
    assert (result.fetched, result.created, result.skipped) == (2, 0, 2)
    assert not Ticket.objects.exists()
    assert InboundEmail.objects.count() == 2


def test_imap_over_ssl_verifies_the_certificate(
    imap_inbox: ImapServer, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = make_mailbox(imap_inbox, desk, port=imap_inbox.ssl_port, use_ssl=True)
    imap_inbox.append(email(subject="经 SSL 读取"))

    result = mail.mailbox_poll(box)  # a self-signed certificate is not trusted
    assert result.error
    assert not Ticket.objects.exists()

    monkeypatch.setenv("SSL_CERT_FILE", str(imap_inbox.cert_file))
    ok, detail = mail.mailbox_test(box)
    assert ok, detail
    assert mail.mailbox_poll(box).created == 1
    assert Ticket.objects.get().subject == "经 SSL 读取"


def test_mailbox_test_reports_problems(imap_inbox: ImapServer, desk: Desk) -> None:
    box = make_mailbox(imap_inbox, desk)
    imap_inbox.append(email())
    assert mail.mailbox_test(box) == (True, "Connected; the folder INBOX holds 1 messages.")
    box.password = "wrong"
    assert mail.mailbox_test(box) == (False, "The server refused the user name or password.")
    assert not Ticket.objects.exists()  # testing reads nothing


def test_periodic_job_polls_active_mailboxes_only(imap_inbox: ImapServer, desk: Desk) -> None:
    active = make_mailbox(imap_inbox, desk)
    idle = make_mailbox(imap_inbox, desk, name="停用", is_active=False)
    broken = make_mailbox(imap_inbox, desk, name="坏的", password="wrong")
    imap_inbox.append(email())

    totals = tasks.poll_mailboxes.call_local()  # the huey job (with its lock) runs the poll

    assert totals == {"mailboxes": 2, "created": 1, "replies": 0, "failed": 1}
    active.refresh_from_db()
    idle.refresh_from_db()
    broken.refresh_from_db()
    assert active.last_uid > 0
    assert idle.last_polled_at is None
    assert broken.last_error


def test_errors_are_worded_in_chinese(imap_inbox: ImapServer, desk: Desk) -> None:
    box = make_mailbox(imap_inbox, desk, password="wrong")
    with translation.override("zh-hans"):
        assert mail.mailbox_poll(box).error == "服务器拒绝了用户名或密码。"


def test_customer_answer_to_our_reply_threads_by_its_message_id(
    imap_inbox: ImapServer,
    desk: Desk,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    box = make_mailbox(imap_inbox, desk)
    imap_inbox.append(email(subject="无法登录"))
    mail.mailbox_poll(box)
    ticket = Ticket.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        tickets.ticket_reply(actor=desk.agent, ticket=ticket, body="请清除浏览器缓存后重试。")
    sent = mailoutbox[-1]
    assert sent.from_email == "support@kehu.test"  # the polled mailbox answers
    assert ticket.number in sent.subject
    ours = sent.extra_headers["Message-ID"]

    # The customer's client keeps our subject tag out and quotes our text under the answer.
    imap_inbox.append(
        email(
            subject="Re: 无法登录",
            body=f"还是不行。\n\nOn Sun, support@kehu.test wrote:\n> {sent.body}",
            In_Reply_To=ours,
            References=ours,
        )
    )
    result = mail.mailbox_poll(box)

    assert (result.created, result.replies) == (0, 1)
    thread = list(ticket.messages.order_by("id").values_list("kind", "body"))
    assert thread[-1] == (MessageKind.INBOUND, "还是不行。")
    assert [kind for kind, _body in thread] == [
        MessageKind.INBOUND, MessageKind.REPLY, MessageKind.INBOUND,
    ]  # fmt: skip


def test_folder_with_a_chinese_name(imap_server: ImapServer, desk: Desk) -> None:
    assert mail.imap_utf7("工单") == "&XeVTVQ-"
    assert mail.imap_utf7("R&D 工单") == "R&-D &XeVTVQ-"
    folder = f"客服工单{next(_ids)}"
    imap_server.create(mail.imap_utf7(folder))
    imap_server.append(email(subject="中文文件夹"), mail.imap_utf7(folder))
    box = make_mailbox(imap_server, desk, folder=folder)
    assert mail.mailbox_poll(box).created == 1


def test_number_in_the_subject_threads_without_reply_headers(
    imap_inbox: ImapServer, desk: Desk
) -> None:
    box = make_mailbox(imap_inbox, desk)
    imap_inbox.append(email(subject="显示屏花屏"))
    mail.mailbox_poll(box)
    ticket = Ticket.objects.get()
    imap_inbox.append(email(subject=f"[{ticket.number}] 补充照片说明", body="照片见附件"))
    assert mail.mailbox_poll(box).replies == 1
    assert Ticket.objects.count() == 1


def test_huge_message_is_read_up_to_the_limit(
    imap_inbox: ImapServer, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail, "MAX_FETCH", 64 * 1024)
    box = make_mailbox(imap_inbox, desk)
    message = email(subject="附件很大", body="日志见附件。")
    message.add_attachment(b"\x00" * (512 * 1024), maintype="application", subtype="zip")
    imap_inbox.append(message)
    assert mail.mailbox_poll(box).created == 1
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.content) == ("附件很大", "日志见附件。")


def test_answer_to_a_closed_triage_ticket_keeps_the_customer_linked_by_hand(
    imap_inbox: ImapServer, desk: Desk
) -> None:
    box = make_mailbox(imap_inbox, desk)
    first = email(sender="li@unknown.example")
    imap_inbox.append(first)
    mail.mailbox_poll(box)
    old = Ticket.objects.get()
    assert old.customer is None
    Ticket.objects.filter(pk=old.pk).update(
        customer=desk.customer, status=TicketStatus.CLOSED, closed_at=timezone.now()
    )
    imap_inbox.append(email(sender="li@unknown.example", In_Reply_To=first["Message-ID"]))
    mail.mailbox_poll(box)
    new = Ticket.objects.exclude(pk=old.pk).get()
    assert new.customer == desk.customer
