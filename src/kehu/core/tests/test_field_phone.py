"""A rep in the field (外勤) on a 390px phone, in a real browser: my day, a customer's page with
one-tap call and copy, a quick follow-up with a camera photo, the lead inbox, the board as a
list of stages; the app works offline as a PWA; and bad input: a board drag interrupted by a
window resize, a 60-character name and a ¥9,999,999,999 deal (issue 33)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone

from kehu.accounts.models import Role
from kehu.accounts.services import department_create
from kehu.conftest import ARTIFACTS
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.customers import services as customers
from kehu.customers.models import CustomerShare
from kehu.followups.models import FollowUp
from kehu.followups.services import task_create
from kehu.leads.models import Lead, LeadStatus
from kehu.leads.services import lead_assign, lead_capture
from kehu.opportunities import services as deals

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
CHECK = (Path(__file__).parent / "layout_check.js").read_text(encoding="utf-8")
LONG_NAME = (
    "上海浦东新区张江高科技园区国际智能制造装备与工业互联网解决方案"
    "研究开发中心集团股份有限公司华东区域第一营业部销售服务公司"
)


def shoot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "layout" / "phone" / f"{name}.png"), full_page=True)


def no_layout_problems(tab: Any) -> None:
    assert tab.evaluate(CHECK) == []


@pytest.fixture
def team(transactional_db: None) -> dict[str, Any]:
    shanghai = department_create(name="上海组")
    manager = user_with_password(Role.MANAGER, username="boss", department=shanghai)
    rep = user_with_password(Role.SALES, username="xiaoli", department=shanghai)
    colleague = user_with_password(Role.SALES, username="xiaowang", department=shanghai)
    marketing = user_with_password(Role.MARKETING, username="market")
    own = customers.customer_create(
        actor=rep,
        data={"name": "苏州精密制造有限公司"},
        contacts=[{"name": "陈经理", "mobile": "13912345678", "work_phone": "021-50801234"}],
        force=True,
    )
    shared = customers.customer_create(
        actor=colleague,
        data={"name": "杭州远景贸易有限公司"},
        contacts=[{"name": "王总", "mobile": "13800138000"}],
        force=True,
    )
    CustomerShare.objects.create(customer=shared, user=rep, can_edit=False)
    task_create(
        actor=rep,
        assignee=rep,
        title="回访苏州精密，确认样机测试结果",
        customer=own,
        due_at=timezone.now() + timedelta(hours=2),
    )
    lead = lead_capture(
        actor=marketing,
        data={
            "company_name": "无锡新材料科技有限公司",
            "contact_name": "赵工",
            "mobile": "13700137000",
            "source": "inbound_call",
            "need": "询价",
        },
    )
    lead_assign(actor=manager, lead=lead, assignee=rep)
    return {"rep": rep, "own": own, "shared": shared, "lead": lead}


def test_a_rep_works_the_day_from_a_phone(page: Any, team: dict[str, Any]) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.set_viewport_size(PHONE)
    sign_in(page, "xiaoli")

    # My day: the menu is a drawer behind the menu button; the done buttons fit on one line.
    page.goto(f"{page.base_url}/followups/")
    assert not page.locator("#main-menu").is_visible()
    no_layout_problems(page)
    shoot(page, "my-day")
    page.click("#menu-toggle")
    page.wait_for_selector("#kehu-sidebar.show:not(.showing)")
    no_layout_problems(page)
    shoot(page, "menu")
    page.keyboard.press("Escape")
    page.wait_for_selector("#kehu-sidebar:not(.show)", state="attached")

    # The customer's page: the rep's own contact is one tap to call, and can be copied.
    own, shared = team["own"], team["shared"]
    page.goto(f"{page.base_url}/customers/{own.pk}/?tab=contacts")
    call = page.locator('#contact-table a[href="tel:+8613912345678"]')
    assert call.is_visible()
    assert page.locator('#contact-table a[href^="tel:+862150801234"]').count() == 1
    copy = page.locator(f'[data-copy="contact-{own.contacts.get().pk}-mobile"]')
    copy.click()
    page.wait_for_selector("[data-copied=true]")
    assert page.evaluate("navigator.clipboard.readText()") == call.inner_text().strip()
    no_layout_problems(page)
    shoot(page, "customer-contacts")

    # A colleague's customer shared read-only: the number is masked, so no tel: link at all.
    page.goto(f"{page.base_url}/customers/{shared.pk}/?tab=contacts")
    masked = page.locator(f"#contact-{shared.contacts.get().pk}-mobile")
    assert "****" in masked.inner_text()
    assert page.locator('#contact-table a[href^="tel:"]').count() == 0
    assert "13800138000" not in page.content()

    # A quick follow-up with a photo from the camera.
    page.goto(f"{page.base_url}/followups/customers/{own.pk}/")
    photo = page.locator("#id_photo")
    assert photo.get_attribute("accept") == "image/*"
    assert photo.get_attribute("capture") == "environment"
    page.select_option("#id_method", "visit")
    page.select_option("#id_sentiment", "positive")
    page.fill("#id_content", "现场查看样机运行情况，客户满意")
    page.fill("#id_sentiment_reason", "样机运行稳定")
    page.fill("#id_next_step_on", (timezone.localdate() + timedelta(days=2)).isoformat())
    page.fill("#id_next_step_action", "发送正式报价")
    page.set_input_files("#id_photo", str(finders.find("kehu/icons/icon-192.png")))
    no_layout_problems(page)
    shoot(page, "follow-up-form")
    page.click("#followup-submit")
    page.wait_for_selector(".followup-entry")
    followup = FollowUp.objects.get(customer=own)
    assert [item.name for item in followup.attachments.all()] == ["icon-192.png"]

    # The lead inbox: the assigned lead is confirmed from the phone.
    page.goto(f"{page.base_url}/leads/mine/")
    no_layout_problems(page)
    shoot(page, "lead-inbox")
    page.click(f"tr[data-lead-id='{team['lead'].pk}'] a")
    assert page.locator('a[href="tel:+8613700137000"], a[href="tel:13700137000"]').count() == 1
    no_layout_problems(page)
    page.click("#confirm-lead")
    page.wait_for_selector("#convert-lead")
    assert Lead.objects.get(pk=team["lead"].pk).status == LeadStatus.CONFIRMED


def test_the_board_is_a_list_of_stages_on_a_phone(page: Any, team: dict[str, Any]) -> None:
    deals.opportunity_create(
        actor=team["rep"],
        customer=team["own"],
        data={"name": "样机采购", "expected_close": timezone.localdate() + timedelta(days=30)},
    )
    page.set_viewport_size(PHONE)
    sign_in(page, "xiaoli")
    page.goto(f"{page.base_url}/pipeline/")
    page.wait_for_selector("#board[data-ready=true]")
    columns = page.locator(".kanban-column")
    first, second = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert second["y"] >= first["y"] + first["height"]  # one under another
    assert first["width"] > 300
    no_layout_problems(page)
    shoot(page, "board")


def test_offline_the_app_shows_its_offline_page_and_caches_no_personal_data(
    page: Any, team: dict[str, Any]
) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, "xiaoli")
    page.goto(f"{page.base_url}/customers/{team['own'].pk}/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now under the worker's control
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    page.goto(f"{page.base_url}/customers/{team['own'].pk}/")
    assert page.locator("#offline-page").is_visible()
    shoot(page, "offline")
    cached = page.evaluate(
        """async () => {
            const urls = [];
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) urls.push(new URL(request.url).pathname);
            }
            return urls;
        }"""
    )
    page.context.set_offline(False)
    assert "/offline/" in cached
    assert all(url == "/offline/" or url.startswith("/static/") for url in cached), cached


def test_a_window_resized_during_a_drag_leaves_the_board_whole(
    page: Any, team: dict[str, Any]
) -> None:
    """Bad input: a drag in progress when the window shrinks to a phone, with a 60-character
    customer name and a ¥9,999,999,999 deal on the board."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    customer = customers.customer_create(actor=team["rep"], data={"name": LONG_NAME}, force=True)
    deal = deals.opportunity_create(
        actor=team["rep"],
        customer=customer,
        data={
            "name": LONG_NAME,
            "amount": Decimal("9999999999"),
            "expected_close": timezone.localdate() + timedelta(days=30),
        },
    )
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, "xiaoli")
    page.goto(f"{page.base_url}/pipeline/")
    page.wait_for_selector("#board[data-ready=true]")
    no_layout_problems(page)
    card = page.locator(f"#card-{deal.pk}").bounding_box()
    page.mouse.move(card["x"] + card["width"] / 2, card["y"] + 10)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(card["x"] + card["width"] / 2 + 40 * step, card["y"] + 10 + 5 * step)
    page.set_viewport_size(PHONE)  # the window shrinks mid-drag
    page.mouse.move(200, 400, steps=5)
    page.mouse.up()
    page.wait_for_function("!document.querySelector('.sortable-fallback, .sortable-chosen')")
    page.wait_for_selector(f"#card-{deal.pk}")
    no_layout_problems(page)
    shoot(page, "board-after-resized-drag")
    page.set_viewport_size({"width": 1440, "height": 900})
    no_layout_problems(page)
    page.goto(f"{page.base_url}/customers/{customer.pk}/")
    no_layout_problems(page)
    page.set_viewport_size(PHONE)
    no_layout_problems(page)
    shoot(page, "long-customer-name")
    assert errors == []
