"""A marketing campaign end to end in a real browser (issue 29 item 7).

Marketing records e-mail consent through the consent import page (strict opt-in), builds a
contacts segment with the condition builder, plans a campaign and adds the segment's members,
writes a template with merge fields (称呼, 公司), previews it for a member, sends it through a
real SMTP server (aiosmtpd; the send job runs), reads each recipient's status, follows the
unsubscribe link of a received mail (the same link as its List-Unsubscribe header) and
confirms; a second send then skips that contact, says so, and the SMTP server gets no second
mail for the address. Screenshots at desktop width and at 375 px go to test-artifacts/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from playwright.sync_api import expect

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.campaigns.models import (
    Campaign,
    Consent,
    ConsentStatus,
    MessageTemplate,
    Segment,
    Send,
)
from kehu.campaigns.services.consent import REASON_LABELS, UNSUBSCRIBED
from kehu.campaigns.tests.outreach_support import smtp_sink
from kehu.conftest import ARTIFACTS
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.customers.models import Contact
from kehu.customers.tests.factories import make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WANG = "wang.wei@jinggong.example.cn"
LI = "li.na@jinggong.example.cn"
ZHAO = "zhao.min@hengtai.example.cn"
URL = re.compile(r"https?://\S+/marketing/u/[^/\s]+/")


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"e2e-{name}.png"), full_page=True)


def _phone(page: Any, name: str) -> None:
    """The current page at 375 px: no sideways scroll, a screenshot; then desktop again."""
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, (name, overflow)
    _shot(page, f"{name}-375")
    page.set_viewport_size({"width": 1280, "height": 900})


def _send(page: Any, campaign: Campaign, template: MessageTemplate) -> Send:
    page.goto(page.base_url + reverse("campaigns:sends", args=[campaign.pk]))
    page.select_option("#id_template", str(template.pk))
    page.click("#send-submit")
    page.wait_for_selector("#message-table")
    send = Send.objects.filter(campaign=campaign).order_by("-pk").first()
    assert send is not None
    page.wait_for_url(f"**{reverse('campaigns:send_detail', args=[send.pk])}")
    return send


def test_segment_campaign_send_unsubscribe_and_resend(page: Any, settings: Any) -> None:
    east = accounts.department_create(name="华东区")
    rep = user_with_password(Role.SALES, department=east, username="xiaoli")
    user_with_password(Role.MARKETING, username="shichang")
    jinggong = make_customer(rep, name="上海精工制造", status="won")
    hengtai = make_customer(rep, name="上海恒泰商贸", status="intent")
    # the customer form sets no gender, which 称呼 uses: the contacts are written directly
    for customer, name, gender, email in [
        (jinggong, "王伟", "m", WANG),
        (jinggong, "李娜", "f", LI),
        (hengtai, "赵敏", "f", ZHAO),
    ]:
        Contact.objects.create(customer=customer, name=name, gender=gender, email=email)
    # the links in the mail must reach this server: the configured public address
    settings.BASE_URL = page.base_url
    base = page.base_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    # the shared 2-core machine answers slowly under load
    page.set_default_navigation_timeout(60_000)
    page.set_default_timeout(60_000)
    sign_in(page, "shichang")

    # 1. consent (strict opt-in) through the import page
    page.goto(base + reverse("campaigns:consent_import"))
    rows = "\n".join(
        ["email,channel,status,note", *(f"{a},email,granted,展会登记" for a in (WANG, LI, ZHAO))]
    )
    page.set_input_files(
        "#consent-file",
        {"name": "consent.csv", "mimeType": "text/csv", "buffer": rows.encode()},
    )
    page.click("#consent-import-form button[type=submit]")
    page.wait_for_selector("#consent-import-result")
    assert page.locator("#consent-import-result tbody tr").count() == 3
    assert page.locator("#consent-import-result tr.table-danger").count() == 0
    granted = Consent.objects.filter(channel="email", status=ConsentStatus.GRANTED)
    assert sorted(granted.values_list("contact__email", flat=True)) == sorted([WANG, LI, ZHAO])

    # 2. the segment: contacts of won customers who have an e-mail
    page.goto(base + reverse("campaigns:segment_create"))
    page.fill("#id_name", "成交客户联系人")
    page.select_option("#id_target", "contacts")
    count = page.locator("#segment-count")
    expect(count).to_have_text(re.compile(r"\b3\b"), timeout=30_000)
    page.click(".segment-add")
    page.locator(".segment-field").first.select_option("status")
    page.locator(".segment-condition").first.locator("select[multiple]").select_option(["won"])
    expect(count).to_have_text(re.compile(r"\b2\b"), timeout=30_000)
    page.click(".segment-add")
    page.locator(".segment-field").nth(1).select_option("has_email")
    expect(count).to_have_text(re.compile(r"\b2\b"), timeout=30_000)
    _shot(page, "segment-builder")
    page.click("#segment-save")
    segment = Segment.objects.get(name="成交客户联系人")
    page.wait_for_url(f"**/marketing/segments/{segment.pk}/")
    assert page.locator("#segment-size").inner_text().strip() == "2"
    preview = page.locator("#segment-preview").inner_text()
    assert "王伟" in preview
    assert "李娜" in preview
    assert "赵敏" not in preview
    _phone(page, "segment-detail")

    # 3. the campaign, members from the segment
    page.goto(base + reverse("campaigns:list"))
    page.click("#new-campaign")
    today = timezone.localdate()
    page.fill("#id_name", "2026 精工客户答谢邮件")
    page.select_option("#id_kind", "email")
    page.fill("#id_starts_on", today.isoformat())
    page.fill("#id_ends_on", today.isoformat())
    page.fill("#id_budget", "5000")
    page.click("#save-campaign")
    campaign = Campaign.objects.get(name="2026 精工客户答谢邮件")
    page.wait_for_url(f"**/marketing/campaigns/{campaign.pk}/")
    page.select_option("#add-from-segment select[name=segment_id]", str(segment.pk))
    page.click("#add-from-segment button[type=submit]")
    expect(page.locator("#member-count")).to_have_text("2")
    _shot(page, "campaign")
    _phone(page, "campaign")

    with smtp_sink(settings) as sink:
        # 4. the template with merge fields, previewed for a member
        page.goto(base + reverse("campaigns:template_add"))
        page.fill("#id_name", "答谢邀请")
        page.select_option("#id_channel", "email")
        page.fill("#id_subject", "{{ 称呼 }}，感谢{{ 公司 }}一年来的支持")
        page.fill("#id_body", "{{ 称呼 }}您好：\n诚邀您参加{{ campaign }}。\n退订：{{ 退订链接 }}")
        page.click("#template-form button[type=submit]")
        template = MessageTemplate.objects.get(name="答谢邀请")
        page.wait_for_url(f"**{reverse('campaigns:template_edit', args=[template.pk])}")
        page.select_option("#preview-campaign", str(campaign.pk))
        page.wait_for_selector("#preview-member")
        subject = page.locator("#preview-subject").inner_text()
        assert re.fullmatch(r"(王先生|李女士)，感谢上海精工制造一年来的支持", subject), subject
        _shot(page, "template-preview")
        _phone(page, "template-preview")

        # 5. the send, through the real SMTP server; each recipient's status
        first = _send(page, campaign, template)
        expect(page.locator("#send-sent")).to_have_text("2")
        assert page.locator("#message-table [data-status=sent]").count() == 2
        assert page.locator("#send-skipped").count() == 0
        _shot(page, "send-1")
        _phone(page, "send-1")
        mails = {mail["To"]: mail for mail in sink.parsed()}
        assert sorted(mails) == sorted([WANG, LI])
        mail = mails[WANG]
        assert mail["Subject"] == "王先生，感谢上海精工制造一年来的支持"
        body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        link = URL.search(body)
        assert link is not None, body
        header = str(mail["List-Unsubscribe"])
        assert f"<{link.group(0)}>" in header, header
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # 6. the recipient follows the link: the page asks, writes nothing until confirmed
        page.context.clear_cookies()  # the person reading the mail is not signed in
        page.goto(link.group(0))
        expect(page.locator("#unsubscribe-confirm")).to_be_visible()
        wang = Consent.objects.get(contact__email=WANG, channel="email")
        assert wang.status == ConsentStatus.GRANTED
        _phone(page, "unsubscribe")
        page.click("#unsubscribe-confirm")
        expect(page.locator("#unsubscribe-done")).to_be_visible()
        wang.refresh_from_db()
        assert wang.status == ConsentStatus.WITHDRAWN
        _shot(page, "unsubscribed")

        # 7. the second send skips the unsubscribed contact and says why
        sign_in(page, "shichang")
        second = _send(page, campaign, template)
        expect(page.locator("#send-sent")).to_have_text("1")
        skipped = page.locator("#send-skipped").inner_text()
        with translation.override(page.evaluate("document.documentElement.lang")):
            assert f"{REASON_LABELS[UNSUBSCRIBED]}: 1" in skipped, skipped
        assert page.locator("#message-table [data-status=sent]").count() == 1
        _shot(page, "send-2")
        _phone(page, "send-2")
        to = [str(mail["To"]) for mail in sink.parsed()]
    assert to.count(WANG) == 1
    assert to.count(LI) == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.total, first.sent, first.failed) == (2, 2, 0)
    assert not any((first.skipped or {}).values())
    assert (second.total, second.sent, second.failed) == (1, 1, 0)
    assert {k: v for k, v in (second.skipped or {}).items() if v} == {UNSUBSCRIBED: 1}
