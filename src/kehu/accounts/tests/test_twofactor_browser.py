"""Two-factor sign-in in a real browser: an admin turns it on from the profile by typing the
code computed from the key the page shows, signs out, signs in with a code, then with a
recovery code, which works once."""

from __future__ import annotations

import time
from base64 import b32decode
from typing import Any

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from kehu.accounts.models import Role
from kehu.core.models import AuditEntry
from kehu.core.testing.browser import BROWSER_PASSWORD, user_with_password

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def code_from(secret: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the key typed from the page."""
    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def sign_out(page: Any) -> None:
    page.locator("form[action='/accounts/logout/'] button").first.click()
    page.wait_for_url("**/accounts/login/**")


def password_step(page: Any) -> None:
    page.goto(f"{page.base_url}/accounts/login/")
    page.fill("#id_username", "guanli")
    page.fill("#id_password", BROWSER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/accounts/login/verify/")


def test_enable_two_factor_and_sign_in_with_a_code_then_a_recovery_code(page: Any) -> None:
    page.set_default_navigation_timeout(60_000)
    page.set_default_timeout(60_000)
    admin = user_with_password(Role.ADMIN, username="guanli")
    page.goto(f"{page.base_url}/accounts/login/")
    page.fill("#id_username", "guanli")
    page.fill("#id_password", BROWSER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)

    page.goto(f"{page.base_url}/accounts/profile/")
    page.click("#two-factor-setup")
    expect(page.locator("#two-factor-qr svg")).to_be_visible()
    secret = page.locator("#two-factor-secret").inner_text().strip()
    page.fill("#id_code", code_from(secret))
    page.click("#two-factor-confirm")
    codes = [text.strip() for text in page.locator(".recovery-code").all_inner_texts()]
    assert len(codes) == 10
    page.click("#recovery-codes-done")
    expect(page.locator("#two-factor-status")).to_have_class("badge text-bg-success")

    # signed out, the password alone no longer signs in: the code of the app's next step does
    sign_out(page)
    password_step(page)
    page.fill("#id_code", code_from(secret, 1))
    page.click("#verify-submit")
    page.wait_for_url(lambda url: "/accounts/login" not in url)
    expect(page.locator("#profile-link")).to_be_visible()

    # a recovery code works once
    sign_out(page)
    password_step(page)
    page.fill("#id_code", codes[0])
    page.click("#verify-submit")
    page.wait_for_url(lambda url: "/accounts/login" not in url)
    sign_out(page)
    password_step(page)
    page.fill("#id_code", codes[0])
    page.click("#verify-submit")
    expect(page.locator("#id_code")).to_have_class("form-control is-invalid")
    assert "/accounts/login/verify/" in page.url

    recorded = set(AuditEntry.objects.filter(actor_id=admin.pk).values_list("action", flat=True))
    assert {"security.2fa_enabled", "security.recovery_code_used"} <= recorded
