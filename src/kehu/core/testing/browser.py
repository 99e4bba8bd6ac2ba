from __future__ import annotations

from typing import Any

from kehu.core.testing.factories import make_user

BROWSER_PASSWORD = "Browser-Test-2024"


def user_with_password(role: str, **extra: Any) -> Any:
    user = make_user(role, **extra)
    user.set_password(BROWSER_PASSWORD)
    user.save(update_fields=["password"])
    return user


def sign_in(page: Any, username: str, password: str = BROWSER_PASSWORD) -> None:
    page.goto(f"{page.base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
