"""Fixtures shared by every app's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db.models.signals import post_migrate

from kehu.core import config, custom_fields
from kehu.core.testing import entry_rules
from kehu.core.testing.factories import Organisation, make_organisation
from kehu.core.testing.seeds import restore_seed_data

post_migrate.connect(restore_seed_data, dispatch_uid="kehu-test-seed-data")

ARTIFACTS = Path(os.environ.get("KEHU_TEST_ARTIFACTS", "test-artifacts"))
CHROMIUM = os.environ.get("KEHU_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _fast_and_isolated(
    settings: Any, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if request.node.get_closest_marker("entry_rules") is None:
        entry_rules.relax(monkeypatch)  # the handbooks' required fields: only where asked
    config.clear_cache()
    cache.clear()  # cached figures must not leak between tests (ids repeat after rollbacks)
    # One process shares its cache with itself: the custom fields' definitions are re-read when
    # they change, not also every few seconds, which would add a query to a slow test's count.
    monkeypatch.setattr(custom_fields, "LOCAL_SECONDS", 3600.0)
    yield
    config.clear_cache()


@pytest.fixture
def org(db: None) -> Organisation:
    return make_organisation()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright; never a downloaded browser."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in the thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.base_url = live_server.url
    yield tab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
