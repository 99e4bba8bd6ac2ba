"""A handover in a real browser: the rep wins the deal, completes and submits the draft; the
specialist confirms it from the dashboard and then opens the customer, which they could not
before."""

from __future__ import annotations

from decimal import Decimal
from importlib import import_module
from typing import Any

import pytest
from django.urls import reverse

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.conftest import ARTIFACTS
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.core.testing.deals import prepare
from kehu.opportunities import services as deals
from kehu.opportunities.tests.factories import make_customer
from kehu.service.models import Handover, HandoverStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _stages(transactional_db: None) -> None:
    """Transactional tests flush the tables: put the seeded stages back."""
    from django.apps import apps

    import_module("kehu.opportunities.migrations.0002_seed_stages").seed(apps, None)


def test_win_complete_submit_and_confirm_a_handover(page: Any) -> None:
    shanghai = accounts.department_create(name="上海组")
    rep = user_with_password(Role.SALES, department=shanghai, username="xiaoli")
    agent = user_with_password(Role.SERVICE, username="liukefu")
    customer = make_customer(rep, name="上海华瑞精密机械有限公司")
    deal = deals.opportunity_create(
        actor=rep,
        customer=customer,
        data={"name": "产线数据采集项目", "amount": Decimal("480000"), "needs": "产线数据采集"},
    )
    deal = prepare(deal, "won", rep)  # each stage's criteria met; the rep wins it below
    base = page.base_url

    sign_in(page, "xiaoli")
    page.goto(base + reverse("opportunities:detail", args=[deal.pk]))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#win-button")
    page.wait_for_load_state()
    handover = Handover.objects.get(opportunity=deal)
    page.goto(f"{base}/")
    page.click("#handover-drafts-panel a:has-text('上海华瑞精密机械有限公司')")
    page.wait_for_url(f"**/service/handovers/{handover.pk}/")
    assert page.locator("#handover-missing").is_visible()
    page.click("#edit-handover")
    page.fill("#id_service_content", "7×24 电话支持，季度巡检")
    page.fill("#id_response_hours", "2")
    page.fill("#id_resolution_hours", "24")
    page.fill("#id_contract_terms", "违约金百分之五")
    page.fill("#id_special_notes", "偏好邮件沟通")
    page.click("#handover-form button[type=submit]")
    page.wait_for_url(f"**/service/handovers/{handover.pk}/")
    assert page.locator("#handover-missing").count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "handover-ready-to-submit.png"), full_page=True)
    page.select_option("#submit-form select[name=specialist]", str(agent.pk))
    page.click("#submit-handover")
    page.wait_for_load_state()
    assert Handover.objects.get(pk=handover.pk).status == HandoverStatus.PENDING
    page.context.clear_cookies()

    sign_in(page, "liukefu")
    response = page.goto(base + reverse("customers:detail", args=[customer.pk]))
    assert response is not None
    assert response.status == 404
    page.goto(f"{base}/")
    page.click("#handover-confirm-panel a:has-text('上海华瑞精密机械有限公司')")
    page.wait_for_url(f"**/service/handovers/{handover.pk}/")
    assert "违约金" not in page.content()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "handover-to-confirm.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#confirm-handover")
    page.wait_for_load_state()
    assert page.locator("#handover-status").inner_text() in ("已完成", "Completed")
    assert Handover.objects.get(pk=handover.pk).status == HandoverStatus.COMPLETED
    response = page.goto(base + reverse("customers:detail", args=[customer.pk]))
    assert response is not None
    assert response.status == 200
    assert "上海华瑞精密机械有限公司" in page.content()
