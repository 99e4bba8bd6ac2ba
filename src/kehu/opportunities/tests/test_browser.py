"""The kanban in a real browser: a refused drag shows what is missing; fixed, the move is saved
and the sales supervisor is notified by the default workflow rule."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.core.testing.deals import advance
from kehu.customers.models import CustomerShare
from kehu.notifications.models import Notification
from kehu.opportunities import services
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _stages(transactional_db: None) -> None:
    """Transactional tests flush the tables: put the seeded stages and rules back."""
    from django.apps import apps

    import_module("kehu.opportunities.migrations.0002_seed_stages").seed(apps, None)


def drag(page: Any, source: str, target: str) -> None:
    """Drag with real mouse moves (SortableJS runs in fallback mode)."""
    start = page.locator(source).bounding_box()
    end = page.locator(target).bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + 10)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(
            start["x"] + (end["x"] + end["width"] / 2 - start["x"]) * step / 10,
            start["y"] + (end["y"] + 30 - start["y"]) * step / 10,
        )
    page.mouse.up()


def test_drag_to_proposal_shows_requirements_then_moves_and_notifies(
    page: Any, tmp_path: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    east = accounts.department_create(name="华东区")
    shanghai = accounts.department_create(name="上海组", parent=east)
    rep = user_with_password(Role.SALES, department=shanghai, username="xiaoli")
    supervisor = user_with_password(Role.MANAGER, department=east, username="wangjingli")
    customer = make_customer(rep, name="上海华瑞精密机械有限公司")
    deal = services.opportunity_create(
        actor=rep,
        customer=customer,
        data={
            "name": "华瑞 CRM 项目",
            "stage": "needs_analysis",
            "needs": "客户管理与销售预测",
            "expected_close": timezone.localdate() + timedelta(days=30),
        },
    )

    sign_in(page, "xiaoli")
    page.goto(f"{page.base_url}/pipeline/")
    page.wait_for_selector("#board[data-ready=true]")
    card = f"#card-{deal.pk}"
    assert page.locator(f'.kanban-cards[data-stage="needs_analysis"] {card}').count() == 1

    drag(page, card, '.kanban-cards[data-stage="proposal"]')
    alert = page.locator("#board-alert")
    alert.wait_for(state="visible")
    assert alert.locator('[data-requirement="amount"]').count() == 1
    assert alert.locator('[data-requirement="proposal"]').count() == 1
    assert "方案提交" in alert.inner_text()
    page.wait_for_selector(f'.kanban-cards[data-stage="needs_analysis"] {card}')
    deal.refresh_from_db()
    assert deal.stage.code == "needs_analysis"

    # Fix it: enter the amount and attach the proposal on the opportunity page.
    page.click(f"{card} a")
    page.click("#edit-opportunity")
    page.fill("#id_amount", "280000")
    page.click("#opportunity-form button[type=submit]")
    page.wait_for_selector("#attachment-form")
    page.select_option("#attachment-form select[name=kind]", "proposal")
    proposal = tmp_path / "华瑞方案.pdf"
    proposal.write_bytes(b"%PDF-1.4 proposal")
    page.set_input_files("#attachment-form input[type=file]", str(proposal))
    page.click("#attachment-form button[type=submit]")
    page.wait_for_selector("#attachments a:has-text('华瑞方案')")

    page.goto(f"{page.base_url}/pipeline/")
    page.wait_for_selector("#board[data-ready=true]")
    drag(page, card, '.kanban-cards[data-stage="proposal"]')
    page.wait_for_selector("#board[data-loaded]")
    page.wait_for_selector(f'.kanban-cards[data-stage="proposal"] {card}')
    page.wait_for_selector("#board-alert", state="hidden")
    assert Opportunity.objects.get(pk=deal.pk).stage.code == "proposal"
    totals = page.locator('[data-testid="totals-proposal"]').inner_text()
    assert "280000" in totals.replace(",", "")

    note = Notification.objects.get(recipient=supervisor, kind="opportunity_stage")
    assert "华瑞 CRM 项目" in note.title
    assert note.url.endswith(f"/pipeline/{deal.pk}/")


def test_stale_drag_reloads_the_card_and_a_read_only_deal_is_refused(page: Any) -> None:
    east = accounts.department_create(name="华东区")
    shanghai = accounts.department_create(name="上海组", parent=east)
    rep = user_with_password(Role.SALES, department=shanghai, username="xiaoli")
    colleague = user_with_password(Role.SALES, department=shanghai, username="xiaozhang")
    mine = services.opportunity_create(
        actor=rep, customer=make_customer(rep), data={"name": "我的项目"}
    )
    theirs = services.opportunity_create(
        actor=colleague, customer=make_customer(colleague), data={"name": "同事的项目"}
    )
    CustomerShare.objects.create(customer=theirs.customer, user=rep, can_edit=False)

    sign_in(page, "xiaoli")
    page.goto(f"{page.base_url}/pipeline/")
    page.wait_for_selector("#board[data-ready=true]")
    assert page.locator(f"#card-{theirs.pk}").inner_text().count("***") == 1  # amount masked

    # Someone renames the deal after the board was loaded: the drag carries a stale version.
    services.opportunity_update(actor=rep, opportunity=mine, data={"name": "我的项目（已改名）"})
    drag(page, f"#card-{mine.pk}", '.kanban-cards[data-stage="needs_analysis"]')
    alert = page.locator("#board-alert")
    alert.wait_for(state="visible")
    page.wait_for_selector(f"#card-{mine.pk}:has-text('已改名')")
    assert page.locator(f'.kanban-cards[data-stage="initial_contact"] #card-{mine.pk}').count()
    assert Opportunity.objects.get(pk=mine.pk).stage.code == "initial_contact"

    page.goto(f"{page.base_url}/pipeline/")
    page.wait_for_selector("#board[data-ready=true]")
    drag(page, f"#card-{theirs.pk}", '.kanban-cards[data-stage="needs_analysis"]')
    alert.wait_for(state="visible")
    page.wait_for_selector(f'.kanban-cards[data-stage="initial_contact"] #card-{theirs.pk}')
    assert Opportunity.objects.get(pk=theirs.pk).stage.code == "initial_contact"


def test_forecast_and_funnel_charts_render(page: Any) -> None:
    east = accounts.department_create(name="华东区")
    rep = user_with_password(Role.SALES, department=east, username="xiaoli")
    user_with_password(Role.MANAGER, department=east, username="wangjingli")
    for amount in (120000, 80000):
        services.opportunity_create(
            actor=rep,
            customer=make_customer(rep),
            data={
                "name": f"项目{amount}",
                "amount": amount,
                "expected_close": timezone.localdate() + timedelta(days=15),
            },
        )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "wangjingli")
    page.goto(f"{page.base_url}/pipeline/forecast/")
    page.wait_for_selector("#forecast-chart[data-rendered=true] canvas")
    assert "200000" in page.locator("#forecast-table tfoot").inner_text().replace(",", "")
    page.goto(f"{page.base_url}/pipeline/funnel/")
    page.wait_for_selector("#funnel-chart[data-rendered=true] canvas")
    assert "初步接触" in page.locator("#funnel-table").inner_text()
    assert errors == []


def test_new_opportunity_finds_its_customer_by_typing(page: Any) -> None:
    rep = user_with_password(Role.SALES, username="xiaozhang")
    wanted = make_customer(rep, name="上海瑞德电子有限公司")
    for index in range(30):  # newer: the picker lists 20 of these before any search
        make_customer(rep, name=f"杭州客户{index:02d}有限公司")

    sign_in(page, "xiaozhang")
    page.goto(f"{page.base_url}/pipeline/new/")
    assert page.locator("#id_customer option").count() == 20
    assert page.locator(f'#id_customer option[value="{wanted.pk}"]').count() == 0
    page.fill("#id_customer_search", "瑞德")
    page.wait_for_selector(f'#id_customer option[value="{wanted.pk}"]')
    assert page.locator("#id_customer option").count() == 1
    page.select_option("#id_customer", str(wanted.pk))
    page.fill("#id_name", "瑞德 MES 项目")
    page.click("#opportunity-form button[type=submit]")
    page.wait_for_url("**/pipeline/*/")
    deal = Opportunity.objects.get(name="瑞德 MES 项目")
    assert deal.customer == wanted
    assert "上海瑞德电子有限公司" in page.content()


def test_dashboard_charts_draw_and_format_js_matches_python(page: Any) -> None:
    from decimal import Decimal

    from kehu.core import formatting

    rep = user_with_password(Role.SALES, username="xiaoli")
    services.opportunity_create(
        actor=rep, customer=make_customer(rep), data={"name": "项目", "amount": 21716000}
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "xiaoli")
    page.goto(f"{page.base_url}/")
    for chart in ("pipeline-chart", "won-chart", "week-chart"):
        page.wait_for_selector(f"#{chart}[data-rendered=true] canvas")
    page.screenshot(path="test-artifacts/dashboard-charts.png", full_page=True)
    cases: list[tuple[Any, str | None, str]] = [
        (21716000, None, "yuan"),
        (21716000, None, "wan"),
        (99950, None, "wan"),
        (9999, None, "wan"),
        (9_999_999_999, None, "yuan"),
        (-1200, "USD", "yuan"),
        ("1234.5", None, "yuan"),
        (0, None, "yuan"),
        (None, None, "yuan"),
    ]
    for value, currency, unit in cases:
        js = page.evaluate(
            "([v, c, u]) => window.kehuFormat.money(v, c, u)", [value, currency, unit]
        )
        assert js == formatting.money(
            Decimal(str(value)) if value is not None else None, currency, unit=unit
        ), (value, currency, unit)
    assert page.evaluate("window.kehuFormat.percent(25)") == formatting.percent(25)
    assert page.evaluate("window.kehuFormat.dayLabel('2026-12-06')") == "12月6日 周日"
    assert errors == []


def test_a_skip_lists_each_stage_and_a_drag_back_asks_for_the_reason(
    page: Any, tmp_path: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    rep = user_with_password(Role.SALES, username="xiaozhou")
    customer = make_customer(rep, name="苏州明泰电子有限公司")
    early = services.opportunity_create(actor=rep, customer=customer, data={"name": "明泰 MES"})
    late = advance(
        services.opportunity_create(actor=rep, customer=customer, data={"name": "明泰 二期"}),
        "proposal",
        rep,
    )

    sign_in(page, "xiaozhou")
    page.goto(f"{page.base_url}/pipeline/")
    page.wait_for_selector("#board[data-ready=true]")
    drag(page, f"#card-{early.pk}", '.kanban-cards[data-stage="negotiation"]')
    alert = page.locator("#board-alert")
    alert.wait_for(state="visible")
    text = alert.inner_text()
    assert "需求分析" in text
    assert "方案提交" in text
    assert alert.locator('[data-requirement="needs"]').count() == 1
    assert alert.locator('[data-requirement="proposal"]').count() == 1
    page.wait_for_selector(f'.kanban-cards[data-stage="initial_contact"] #card-{early.pk}')
    assert Opportunity.objects.get(pk=early.pk).stage.code == "initial_contact"

    page.once("dialog", lambda dialog: dialog.accept("客户预算调整，需重新确认需求"))
    drag(page, f"#card-{late.pk}", '.kanban-cards[data-stage="needs_analysis"]')
    for _attempt in range(50):  # the prompt, then the second request
        if Opportunity.objects.get(pk=late.pk).stage.code == "needs_analysis":
            break
        page.wait_for_timeout(200)
    assert Opportunity.objects.get(pk=late.pk).stage.code == "needs_analysis"
    page.wait_for_selector("#board-alert", state="hidden")
    page.goto(f"{page.base_url}/pipeline/{late.pk}/")
    assert "客户预算调整，需重新确认需求" in page.locator("#stage-history").inner_text()
