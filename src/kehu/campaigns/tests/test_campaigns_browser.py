"""A campaign in a real browser: marketing plans it, adds members from a segment, records a
cost (a future date is refused), sets responses on selected members in bulk, and reads the
members masked; on a phone (375 px) the page has no sideways scroll."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.campaigns.models import Campaign, CampaignMember, Touch, TouchKind
from kehu.campaigns.tests.support import make_customer, static_segment
from kehu.conftest import ARTIFACTS
from kehu.core.testing.browser import sign_in, user_with_password

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_plan_a_campaign_add_members_and_responses(page: Any) -> None:
    east = accounts.department_create(name="华东区")
    rep = user_with_password(Role.SALES, department=east, username="xiaoli")
    user_with_password(Role.MARKETING, username="sunshichang")
    customers = [make_customer(rep, contacts=2, mobile="13812345678"), make_customer(rep)]
    static_segment(rep, customers, name="展会邀约名单")
    base = page.base_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    sign_in(page, "sunshichang")
    page.goto(base + reverse("campaigns:list"))
    page.click("#new-campaign")
    today = timezone.localdate()
    page.fill("#id_name", "2026 华东工业自动化展")
    page.select_option("#id_kind", "trade_show")
    page.fill("#id_starts_on", today.isoformat())
    page.fill("#id_ends_on", (today + timedelta(days=3)).isoformat())
    page.fill("#id_budget", "180000")
    page.click("#save-campaign")
    campaign = Campaign.objects.get(name="2026 华东工业自动化展")
    page.wait_for_url(f"**/marketing/campaigns/{campaign.pk}/")

    # members from the segment: three contacts, masked for marketing
    page.select_option("#add-from-segment select[name=segment_id]", label="展会邀约名单")
    page.click("#add-from-segment button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("#member-count") == "3"
    table = page.inner_text("#member-table")
    assert "138****5678" in table
    assert "13812345678" not in table

    # a cost dated tomorrow is refused, today's is recorded
    page.fill("#cost-form #id_spent_on", (today + timedelta(days=1)).isoformat())
    page.fill("#cost-form #id_amount", "86000")
    page.click("#cost-form button[type=submit]")
    page.wait_for_load_state()
    assert campaign.costs.count() == 0
    page.fill("#cost-form #id_spent_on", today.isoformat())
    page.fill("#cost-form #id_amount", "86000")
    page.click("#cost-form button[type=submit]")
    page.wait_for_load_state()
    assert campaign.costs.count() == 1

    # two selected members registered at once
    boxes = page.locator("#member-table .member-pick")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("#member-responses select[name=response]", "registered")
    page.click("#set-responses")
    page.wait_for_load_state()
    registered = CampaignMember.objects.filter(campaign=campaign, response="registered")
    assert registered.count() == 2
    assert Touch.objects.filter(campaign=campaign, kind=TouchKind.RESPONSE).count() == 2
    page.screenshot(path=str(ARTIFACTS / "campaign-detail.png"), full_page=True)

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    page.screenshot(path=str(ARTIFACTS / "campaign-detail-phone.png"), full_page=True)
