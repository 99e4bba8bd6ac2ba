"""Outreach in a real browser: marketing writes a template (an unknown merge field is refused
by name), previews it for a member, sends it to the campaign through a real SMTP server and
sees each recipient's status and the skipped count; on a phone the pages fit."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.campaigns.models import ConsentStatus, MessageTemplate
from kehu.campaigns.tests.outreach_support import add_contact_member, make_campaign, smtp_sink
from kehu.conftest import ARTIFACTS
from kehu.core.testing.browser import sign_in, user_with_password

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_write_preview_and_send_a_template(page: Any, settings: Any) -> None:
    east = accounts.department_create(name="华东区")
    rep = user_with_password(Role.SALES, department=east, username="xiaoli")
    marketing = user_with_password(Role.MARKETING, username="shichang")
    campaign = make_campaign(marketing, name="2026 智能制造展")
    add_contact_member(campaign, rep, name="王伟", gender="m", email="wang@example.cn")
    add_contact_member(campaign, rep, name="欧阳娜娜", gender="f", email="ouyang@example.cn")
    add_contact_member(
        campaign, rep, name="李雷", email="li@example.cn", consent=ConsentStatus.WITHDRAWN
    )
    base = page.base_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with smtp_sink(settings) as sink:
        sign_in(page, "shichang")
        page.goto(base + reverse("campaigns:template_add"))
        page.fill("#id_name", "展会邀请")
        page.select_option("#id_channel", "email")
        page.fill("#id_subject", "{{ 称呼 }}，邀请您参加{{ campaign }}")
        page.fill("#id_body", "{{ salutation }}您好，{{ coupon }}")
        page.click("#template-form button[type=submit]")
        assert "{{ coupon }}" in page.locator("#template-form").inner_text()
        assert not MessageTemplate.objects.exists()
        page.fill("#id_body", "{{ salutation }}您好，{{ company }}诚邀您莅临。")
        page.click("#template-form button[type=submit]")
        template = MessageTemplate.objects.get()
        page.wait_for_url(f"**{reverse('campaigns:template_edit', args=[template.pk])}")

        page.select_option("#preview-campaign", str(campaign.pk))
        page.wait_for_selector("#preview-member")
        assert "王先生" in page.locator("#preview-subject").inner_text()
        page.screenshot(path=str(ARTIFACTS / "outreach-template.png"), full_page=True)

        page.goto(base + reverse("campaigns:sends", args=[campaign.pk]))
        page.select_option("#id_template", str(template.pk))
        page.click("#send-submit")
        page.wait_for_selector("#message-table")
        assert page.locator("#send-sent").inner_text() == "2"
        assert "1" in page.locator("#send-skipped").inner_text()
        assert page.locator("[data-status=sent]").count() == 2
        page.screenshot(path=str(ARTIFACTS / "outreach-send.png"), full_page=True)
        page.set_viewport_size({"width": 375, "height": 800})
        page.reload()
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 375
        page.screenshot(path=str(ARTIFACTS / "outreach-send-phone.png"), full_page=True)
    assert len(sink.messages) == 2
