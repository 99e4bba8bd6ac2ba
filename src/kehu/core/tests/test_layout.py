"""Every page at every width, as every demo role, in a real browser (issue 33).

The demo company is loaded once, with a customer whose name is 60 Chinese characters and a deal
of ¥9,999,999,999. One browser, one context per role and language (every role in Chinese; the
manager, and the admin's own pages, in English too); the viewport is resized in place. At each
width a page must not scroll sideways, the menu keeps its 13rem on desktop (a drawer below
992px), nothing overlaps in the top bar, the menu or the title row, no text wraps one character
per line, no button label wraps, and a chart's legend clears its axis labels
(``layout_check.js``). Screenshots of each page at 1440 and 390px in both languages go to
``test-artifacts/layout/`` for review.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from kehu.accounts.demo import DEMO_PASSWORD
from kehu.accounts.models import User
from kehu.conftest import ARTIFACTS
from kehu.core.demo import load_demo
from kehu.core.testing.browser import sign_in
from kehu.customers import services as customers
from kehu.customers.models import Customer
from kehu.leads.models import Lead
from kehu.opportunities import services as deals
from kehu.opportunities.models import Opportunity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1440, 1280, 1024, 768, 390)
SCREENSHOT_WIDTHS = (1440, 390)
# The demo login of each role; the manager goes first, so most screenshots show a full page.
ROLES = {
    "manager": "wang.manager",
    "admin": "admin",
    "sales": "li.sales",
    "service": "liu.service",
    "marketing": "sun.marketing",
}
LONG_NAME = (  # 60 characters
    "上海浦东新区张江高科技园区国际智能制造装备与工业互联网解决方案"
    "研究开发中心集团股份有限公司华东区域第一营业部销售服务公司"
)
ANONYMOUS_PAGES = ["/accounts/login/", "/offline/"]
HUGE_AMOUNT = Decimal("9999999999")
CHECK = (Path(__file__).parent / "layout_check.js").read_text(encoding="utf-8")


@dataclass
class Book:
    """The demo company plus the records that stress the layout."""

    long_customer: Customer
    huge_deal: Opportunity
    lead: Lead | None


def make_book() -> Book:
    load_demo(customers=24, seed=33)
    rep = User.objects.get(username="li.sales")
    assert len(LONG_NAME) == 60
    long_customer = customers.customer_create(
        actor=rep,
        data={"name": LONG_NAME, "address": LONG_NAME + "一号楼", "initial_need": LONG_NAME},
        contacts=[{"name": "欧阳建国", "mobile": "13912345678", "title": LONG_NAME[:20]}],
        force=True,
    )
    huge_deal = deals.opportunity_create(
        actor=rep,
        customer=long_customer,
        data={
            "name": LONG_NAME,
            "amount": HUGE_AMOUNT,
            "expected_close": timezone.localdate() + timedelta(days=20),
        },
    )
    return Book(long_customer, huge_deal, Lead.objects.order_by("pk").first())


def pages_of(tab: Any, book: Book) -> list[str]:
    """The menu's pages and the pages one click away from them (sub-navigation, a record)."""
    menu = tab.eval_on_selector_all("#main-menu a", "links => links.map(a => a.pathname)")
    more = [
        "/followups/calendar/?view=week",
        "/followups/calendar/?view=month",
        "/pipeline/list/",
        "/pipeline/forecast/",
        "/pipeline/funnel/",
        "/pipeline/review/",
        "/customers/new/",
        f"/customers/{book.long_customer.pk}/",
        f"/followups/customers/{book.long_customer.pk}/",
        f"/pipeline/{book.huge_deal.pk}/",
        "/notifications/",
        "/accounts/profile/",
    ]
    if book.lead is not None:
        more.append(f"/leads/{book.lead.pk}/")
    return menu + [path for path in more if path not in menu]


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "dashboard"


def settle(tab: Any) -> None:
    """Wait for the page's own htmx loads (the bell, lazy tabs): no fixed sleeps, and not
    "network idle", which costs half a second a page."""
    tab.wait_for_load_state("load")
    tab.wait_for_function("() => !document.querySelector('.htmx-request')")


def check_page(tab: Any, path: str, shoot: str | None) -> list[tuple[int, list[str]]]:
    """Load ``path`` once, then resize through the widths, checking (and photographing) each."""
    tab.set_viewport_size({"width": WIDTHS[0], "height": 900})
    response = tab.goto(f"{tab.base_url}{path}")
    if response is None or response.status >= 400:
        return []  # not this role's page (403/404): the permission tables test that
    settle(tab)
    found = []
    for width in WIDTHS:
        tab.set_viewport_size({"width": width, "height": 900})
        found.append((width, tab.evaluate(CHECK)))
        if shoot and width in SCREENSHOT_WIDTHS:
            target = ARTIFACTS / "layout" / shoot / f"{width}-{slug(path)}.png"
            tab.screenshot(path=str(target), full_page=True)
    return found


def test_every_page_at_every_width_as_every_role(
    browser: Any, live_server: Any, record_property: Any
) -> None:
    started = time.perf_counter()
    book = make_book()
    problems: list[str] = []
    checks = 0
    photographed: set[tuple[str, str]] = set()
    for role, username in ROLES.items():
        for language in ("zh-hans", "en") if role in ("manager", "admin") else ("zh-hans",):
            User.objects.filter(username=username).update(language=language)
            locale = "en-US" if language == "en" else "zh-CN"
            context = browser.new_context(locale=locale, viewport={"width": 1440, "height": 900})
            context.set_default_timeout(15_000)
            tab = context.new_page()
            tab.base_url = live_server.url
            signed_out = ANONYMOUS_PAGES if role == "manager" else []
            for path in signed_out:
                for width, found in check_page(tab, path, language):
                    checks += 1
                    problems += [f"signed out {path} @{width}px: {text}" for text in found]
            sign_in(tab, username, DEMO_PASSWORD)
            for path in pages_of(tab, book):
                # Each page is photographed once per language, by the first role that sees it;
                # the admin's English pass only adds the pages the manager does not have.
                if role == "admin" and language == "en" and (language, path) in photographed:
                    continue
                shoot = None if (language, path) in photographed else language
                for width, found in check_page(tab, path, shoot):
                    photographed.add((language, path))
                    checks += 1
                    problems += [f"{role} {language} {path} @{width}px: {text}" for text in found]
            context.close()
    record_property("layout_checks", checks)
    record_property("layout_seconds", round(time.perf_counter() - started))
    assert checks > 300
    assert not problems, "\n".join(problems)
