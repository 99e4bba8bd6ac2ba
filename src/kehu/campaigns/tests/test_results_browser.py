"""The results and comparison pages in a real browser, as marketing, on a desktop and a phone:
the charts are drawn, the figures readable, nothing scrolls sideways; screenshots in
test-artifacts/."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from kehu.campaigns.tests.results_support import scenario
from kehu.conftest import ARTIFACTS
from kehu.core.testing.browser import BROWSER_PASSWORD, sign_in
from kehu.core.testing.factories import make_organisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _stages(transactional_db: None, settings: Any, tmp_path: Path) -> None:
    """Transactional tests flush the tables: put the seeded stages (and 成交's contract
    requirement) back."""
    from django.apps import apps

    settings.MEDIA_ROOT = tmp_path / "media"
    import_module("kehu.opportunities.migrations.0002_seed_stages").seed(apps, None)
    import_module("kehu.contracts.migrations.0003_won_requires_approved_contract").add(apps, None)


def test_results_and_comparison_pages(page: Any) -> None:
    org = make_organisation()
    org.marketing.set_password(BROWSER_PASSWORD)
    org.marketing.save(update_fields=["password"])
    made = scenario(org)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, org.marketing.username)
    results = page.base_url + reverse("campaigns:results", args=[made.expo.pk])
    compare = page.base_url + reverse("campaigns:compare")
    for width, height in ((1440, 1000), (375, 812)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(results)
        for chart in ("funnel", "attribution", "money"):
            page.wait_for_selector(f"#{chart}-chart[data-rendered='true']")
        assert page.inner_text("[data-figure='roi']") == "566.7%"
        assert page.inner_text("[data-figure='cost']") == "¥15,000"
        wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not wide, f"the results page scrolls sideways at {width} px"
        page.screenshot(path=str(ARTIFACTS / f"campaign-results-{width}.png"), full_page=True)
        page.goto(compare)
        page.wait_for_selector("#compare-money-chart[data-rendered='true']")
        assert page.locator("#compare-table tbody tr").count() == 2
        wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not wide, f"the comparison page scrolls sideways at {width} px"
        page.screenshot(path=str(ARTIFACTS / f"campaign-compare-{width}.png"), full_page=True)
    page.click(f"#compare-table a:has-text('{made.expo.name}')")
    page.wait_for_url(f"**/campaigns/{made.expo.pk}/results/")
