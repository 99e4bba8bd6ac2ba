"""The mail settings and the public ticket form in Debian's chromium: an admin adds a mailbox
against the real dovecot and tests it; a customer sends the public form; the pages keep the
layout rules (core/tests/layout_check.js) from desktop to phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kehu.accounts.models import Role
from kehu.conftest import ARTIFACTS
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.service.models import Mailbox, Ticket, TicketChannel, TicketWebForm
from kehu.service.tests.conftest import ImapServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHECK = (Path(__file__).resolve().parents[2] / "core/tests/layout_check.js").read_text("utf-8")
WIDTHS = (1440, 1024, 390)


def layout_problems(page: Any, path: str) -> list[str]:
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    page.goto(f"{page.base_url}{path}")
    page.wait_for_load_state("load")
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        problems += [f"{path} @{width}px: {text}" for text in page.evaluate(CHECK)]
        if width in (1440, 390):
            target = ARTIFACTS / "mail" / f"{width}-{path.strip('/').replace('/', '-')}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=True)
    return problems


def test_admin_sets_up_a_mailbox_and_a_form_and_a_customer_sends_it(
    page: Any, imap_server: ImapServer
) -> None:
    user_with_password(Role.ADMIN, username="mail_admin")
    sign_in(page, "mail_admin")

    page.goto(f"{page.base_url}/service/mailboxes/")
    page.fill("#id_name", "售后邮箱")
    page.fill("#id_host", imap_server.host)
    page.fill("#id_port", str(imap_server.port))
    page.uncheck("#id_use_ssl")
    page.fill("#id_username", imap_server.username)
    page.fill("#id_password", imap_server.password)
    page.fill("#id_address", "support@kehu.test")
    page.click(".card-body form button[type=submit]")
    page.wait_for_url("**/service/mailboxes/*/")
    mailbox = Mailbox.objects.get()
    assert page.locator("#id_password").input_value() == ""  # never sent back to the page
    page.click("#mailbox-test")
    page.wait_for_load_state("load")
    assert "INBOX" in page.locator(".alert-success, .toast, [role=alert]").first.inner_text()

    page.goto(f"{page.base_url}/service/ticket-forms/")
    page.fill("#id_name", "在线报修")
    page.fill("#id_slug", "repair")
    page.click(".card-body form button[type=submit]")
    page.wait_for_url("**/service/ticket-forms/*/")
    assert TicketWebForm.objects.get().slug == "repair"

    problems: list[str] = []
    for path in (
        "/service/mailboxes/",
        f"/service/mailboxes/{mailbox.pk}/",
        "/service/ticket-forms/",
        f"/service/ticket-forms/{TicketWebForm.objects.get().pk}/",
    ):
        problems += layout_problems(page, path)

    # The customer, signed out, on the public form.
    page.context.clear_cookies()
    problems += layout_problems(page, "/service/forms/repair/")
    page.set_viewport_size({"width": 390, "height": 900})
    page.fill("#id_name", "王经理")
    page.fill("#id_email", "not-an-email")
    page.fill("#id_subject", "主轴报警")
    page.fill("#id_content", "设备显示 E21 报警。")
    page.click("main form button[type=submit]")
    assert page.locator(".invalid-feedback, .is-invalid").count() > 0
    assert not Ticket.objects.exists()
    page.fill("#id_email", "wang@example.cn")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#public-thanks")
    ticket = Ticket.objects.get()
    assert ticket.channel == TicketChannel.WEB_FORM
    assert ticket.number in page.locator("#public-number").inner_text()
    assert not problems, "\n".join(problems)
