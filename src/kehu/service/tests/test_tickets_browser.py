"""A ticket in a real browser: raised from the form, replied to, noted, paused while waiting
for the customer, re-planned with a reason, resolved; the list shows its SLA state."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.service.models import MessageKind, Ticket, TicketEventKind, TicketStatus
from kehu.service.tests.tickets_support import hand_over, make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ticket_lifecycle_in_the_browser(page: Any) -> None:
    team = accounts.department_create(name="售后一组")
    sales = accounts.department_create(name="上海组")
    rep = user_with_password(Role.SALES, department=sales, username="xiaoli")
    agent = user_with_password(Role.SERVICE, department=team, username="zhanggong")
    customer, _contact = make_customer(rep, email="wang@huarui.example.cn")
    hand_over(customer, rep, agent)

    sign_in(page, "zhanggong")
    page.goto(f"{page.base_url}/service/tickets/new/")
    page.select_option("#id_customer", str(customer.pk))
    page.fill("#id_subject", "数控机床主轴报警")
    page.fill("#id_content", "主轴温度过高，设备自动停机。")
    page.select_option("#id_priority", "high")
    page.click("#ticket-form button[type=submit]")
    page.wait_for_selector("#ticket-thread")
    ticket = Ticket.objects.get()
    assert ticket.assignee == agent
    assert "后超时" in page.inner_text("#ticket-sla")

    page.fill("#reply-body", "您好，请先检查冷却液液位。")
    page.click("#reply-form button[type=submit]")
    page.wait_for_selector('.ticket-message[data-kind="reply"]')
    assert mail.outbox[-1].subject == f"[{ticket.number}] 数控机床主轴报警"

    page.click("#note-tab")
    page.fill("#note-body", "客户是重点客户，优先处理。")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector('.ticket-message[data-kind="note"]')

    page.select_option("#status-select", "waiting")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector('#ticket-sla[data-state="paused"]')

    page.fill("#replan-resolution", "2099-01-05T10:00")
    page.fill("#replan-form input[name=reason]", "等待备件到货")
    page.click("#replan-form button[type=submit]")
    page.wait_for_selector('#ticket-events [data-kind="replanned"]')
    assert "等待备件到货" in page.inner_text("#ticket-events")

    page.select_option("#status-select", "resolved")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector('#ticket-sla[data-state="met"]')

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.first_response_at is not None
    assert ticket.messages.filter(kind=MessageKind.NOTE).count() == 1
    assert ticket.events.filter(kind=TicketEventKind.REPLANNED).count() == 1

    artifacts = Path(os.environ.get("KEHU_TEST_ARTIFACTS", "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts / "ticket_detail_resolved.png"), full_page=True)
    page.goto(f"{page.base_url}/service/tickets/?tab=all")
    row = page.locator("#ticket-table tbody tr", has_text=ticket.number)
    assert row.locator('.ticket-sla[data-state="met"]').count() == 1
