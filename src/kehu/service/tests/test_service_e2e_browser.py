"""The after-sales loop end to end in Debian's chromium, with real mail servers.

A sales rep wins a deal and completes the handover draft; the service specialist confirms it and
may then open the customer. The customer's contact writes to the support mailbox (a real
dovecot, read over IMAP from the mailbox page); the ticket appears in the specialist's list; the
specialist's reply and, on resolution, the satisfaction survey leave through a real SMTP server
(aiosmtpd). The customer answers the survey from the mailed link, signed out; the link then
refuses a second answer. The customer page finally shows the score and the whole loop on its
timeline.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from decimal import Decimal
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from email.utils import make_msgid
from importlib import import_module
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.conftest import ARTIFACTS
from kehu.core import config
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.core.testing.deals import prepare
from kehu.notifications.tests.servers import Mailbox as SmtpSink
from kehu.notifications.tests.servers import smtp_server
from kehu.opportunities import services as deals
from kehu.service.models import Handover, HandoverStatus, Mailbox, Survey, Ticket, TicketStatus
from kehu.service.tests.conftest import ImapServer
from kehu.service.tests.tickets_support import make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTACT_EMAIL = "wang.jingli@huarui.example.cn"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _stages(transactional_db: None) -> None:
    """Transactional tests flush the tables: put the seeded stages back."""
    from django.apps import apps

    import_module("kehu.opportunities.migrations.0002_seed_stages").seed(apps, None)


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpSink]:
    """Outgoing mail through a real SMTP server (aiosmtpd) on loopback."""
    with smtp_server() as (sink, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
        yield sink


def received(sink: SmtpSink) -> list[Message]:
    return [email.message_from_bytes(e.content, policy=default_policy) for e in sink.messages]


def text_of(message: Message) -> str:
    part = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    assert part is not None
    return str(part.get_content())


def shot(page: Any, name: str) -> None:
    target = ARTIFACTS / "service-e2e" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)


def zh(message: str, **values: Any) -> str:
    """A message as the site shows it (zh-hans)."""
    with translation.override("zh-hans"):
        return gettext(message) % values


def test_won_deal_to_answered_survey_on_the_customer(
    page: Any, browser: Any, imap_inbox: ImapServer, smtp: SmtpSink
) -> None:
    base = page.base_url
    config.put("service.survey_base_url", base)
    shanghai = accounts.department_create(name="上海组")
    team = accounts.department_create(name="售后一组")
    rep = user_with_password(Role.SALES, department=shanghai, username="xiaoli")
    agent = user_with_password(Role.SERVICE, department=team, username="liukefu")
    user_with_password(Role.ADMIN, username="mailadmin")
    customer, contact = make_customer(rep, email=CONTACT_EMAIL)
    deal = deals.opportunity_create(
        actor=rep,
        customer=customer,
        data={"name": "产线数据采集项目", "amount": Decimal("480000"), "needs": "产线数据采集"},
    )
    deal = prepare(deal, "won", rep)  # each stage's criteria met; the rep wins it below
    mailbox = Mailbox.objects.create(
        name="售后邮箱",
        host=imap_inbox.host,
        port=imap_inbox.port,
        use_ssl=False,
        username=imap_inbox.username,
        password=imap_inbox.password,
        folder="INBOX",
        address="support@kehu.test",
    )

    # 1. The rep wins the deal; its handover draft is completed and submitted.
    sign_in(page, "xiaoli")
    page.goto(base + reverse("opportunities:detail", args=[deal.pk]))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#win-button")
    page.wait_for_load_state()
    handover = Handover.objects.get(opportunity=deal)
    assert handover.status == HandoverStatus.DRAFT
    page.goto(f"{base}/")
    page.click(f"#handover-drafts-panel a:has-text('{customer.name}')")
    page.wait_for_url(f"**/service/handovers/{handover.pk}/")
    page.click("#edit-handover")
    page.fill("#id_needs", "产线数据采集，设备联网")
    page.fill("#id_service_content", "7×24 电话支持，季度巡检")
    page.fill("#id_response_hours", "2")
    page.fill("#id_resolution_hours", "24")
    page.fill("#id_special_notes", "偏好邮件沟通")
    page.click("#handover-form button[type=submit]")
    page.wait_for_url(f"**/service/handovers/{handover.pk}/")
    assert page.locator("#handover-missing").count() == 0
    page.select_option("#submit-form select[name=specialist]", str(agent.pk))
    page.click("#submit-handover")
    page.wait_for_load_state()
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.PENDING
    assert handover.specialist == agent
    shot(page, "1-handover-submitted")
    page.context.clear_cookies()

    # 2. The specialist confirms it and may now open the customer.
    sign_in(page, "liukefu")
    customer_url = base + reverse("customers:detail", args=[customer.pk])
    response = page.goto(customer_url)
    assert response is not None
    assert response.status == 404
    page.goto(f"{base}/")
    page.click(f"#handover-confirm-panel a:has-text('{customer.name}')")
    page.wait_for_url(f"**/service/handovers/{handover.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#confirm-handover")
    page.wait_for_selector("#handover-status:has-text('已完成')")
    assert Handover.objects.get(pk=handover.pk).status == HandoverStatus.COMPLETED
    response = page.goto(customer_url)
    assert response is not None
    assert response.status == 200
    assert customer.name in page.inner_text("h1")
    shot(page, "2-customer-visible-to-specialist")

    # 3. The contact writes to the support mailbox; an admin reads it now from its page.
    mail_in = EmailMessage()
    mail_in["From"] = f"王经理 <{CONTACT_EMAIL}>"
    mail_in["To"] = "support@kehu.test"
    mail_in["Subject"] = "数控机床主轴报警 E21"
    mail_in["Message-ID"] = make_msgid(domain="huarui.example.cn")
    mail_in.set_content("您好，主轴温度过高，设备自动停机，显示 E21 报警。请尽快处理。")
    imap_inbox.append(mail_in)
    admin_context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    admin_context.set_default_timeout(10_000)
    admin = admin_context.new_page()
    admin.base_url = base
    try:
        sign_in(admin, "mailadmin")
        admin.goto(base + reverse("service:mailbox", args=[mailbox.pk]))
        admin.click("form:has(input[name=action][value=poll]) button[type=submit]")
        admin.wait_for_selector("#mailbox-emails :text('数控机床主轴报警 E21')")
        shot(admin, "3-mailbox-polled")
    finally:
        admin_context.close()
    ticket = Ticket.objects.get()
    assert (ticket.customer_id, ticket.contact_id) == (customer.pk, contact.pk)
    assert ticket.assignee == agent

    page.goto(base + reverse("service:tickets"))
    row = page.locator("#ticket-table tbody tr", has_text=ticket.number)
    row.wait_for()
    assert "数控机床主轴报警" in row.inner_text()
    shot(page, "3-ticket-in-specialist-list")

    # 4. The specialist replies (mailed with the ticket number) and resolves (survey mailed).
    row.locator(f"a:has-text('{ticket.number}')").click()
    page.wait_for_selector("#ticket-thread")
    page.fill("#reply-body", "王经理您好，请先检查冷却液液位，我们的工程师明天上午到场。")
    page.click("#reply-form button[type=submit]")
    page.wait_for_selector('.ticket-message[data-kind="reply"]')
    sent = received(smtp)
    assert len(sent) == 1
    assert ticket.number in str(sent[0]["Subject"])
    assert CONTACT_EMAIL in str(sent[0]["To"])
    assert "冷却液" in text_of(sent[0])

    page.select_option("#status-select", "resolved")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector('#ticket-sla[data-state="met"]')
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.RESOLVED
    shot(page, "4-ticket-resolved")
    sent = received(smtp)
    assert len(sent) == 2
    survey_mail = sent[1]
    assert ticket.number in str(survey_mail["Subject"])
    assert CONTACT_EMAIL in str(survey_mail["To"])
    link = re.search(r"http://\S+/service/survey/[^\s?]+/", text_of(survey_mail))
    assert link is not None
    survey_url = link.group(0)
    assert survey_url.startswith(base)

    # 5. The customer, signed out in a fresh browser, answers from the link; once only.
    customer_context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    customer_context.set_default_timeout(10_000)
    try:
        anonymous = customer_context.new_page()
        anonymous.goto(survey_url)
        anonymous.click("label[for=score-5]")
        anonymous.fill("#survey-comment", "工程师响应很快，问题当天解决")
        anonymous.click("#survey-form button[type=submit]")
        anonymous.wait_for_selector("#survey-thanks")
        assert zh("Thank you for your feedback!") in anonymous.inner_text("#survey-thanks")
        shot(anonymous, "5-survey-thanks")
        anonymous.goto(survey_url)
        refused = anonymous.locator("#survey-refused")
        refused.wait_for()
        assert refused.get_attribute("data-code") == "survey_used"
        shot(anonymous, "5-survey-refused")
    finally:
        customer_context.close()
    survey = Survey.objects.get(ticket=ticket)
    assert (survey.score, survey.comment) == (5, "工程师响应很快，问题当天解决")

    # 6. The rep opens the customer: the score and the loop on the timeline.
    page.context.clear_cookies()
    sign_in(page, "xiaoli")
    page.goto(customer_url)
    section = page.locator("#section-service")
    section.scroll_into_view_if_needed()
    score = page.locator("#customer-satisfaction")
    score.wait_for()
    with translation.override("zh-hans"):
        label = ngettext(
            "Satisfaction %(average)s/5 (%(counter)s survey)",
            "Satisfaction %(average)s/5 (%(counter)s surveys)",
            1,
        )
    assert re.fullmatch(
        re.escape(label)
        .replace(re.escape("%(average)s"), r"5(\.0+)?")
        .replace(re.escape("%(counter)s"), "1"),
        score.inner_text().strip(),
    ), score.inner_text()
    page.click("#tab-timeline-button")
    timeline = page.locator("#timeline")
    timeline.wait_for()
    from playwright.sync_api import expect  # as kehu.conftest: imported where it is used

    expect(page.locator("#tab-timeline")).to_have_css("opacity", "1")  # faded in
    text = timeline.inner_text()
    agent_name = str(agent)
    for expected in (
        zh("Handed over to service: %(specialist)s", specialist=agent_name),
        zh("Handover confirmed by %(specialist)s", specialist=agent_name),
        zh("Ticket %(number)s raised: %(subject)s", number=ticket.number, subject=ticket.subject),
        zh("Ticket %(number)s resolved", number=ticket.number),
        zh("Satisfaction %(score)s/5 on ticket %(number)s", score=5, number=ticket.number),
    ):
        assert expected in text, f"{expected!r} is not on the timeline:\n{text}"
    shot(page, "6-customer-timeline")
