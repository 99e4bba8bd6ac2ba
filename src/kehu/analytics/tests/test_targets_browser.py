"""In Debian's chromium on a phone-sized screen: a manager sets this quarter's target through
the form, sees its progress on the targets page and on the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from kehu.accounts.models import Role
from kehu.analytics.models import Target
from kehu.analytics.tests.targets_support import customer
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.core.testing.factories import Organisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_sets_a_target_on_a_phone(page: Any, org: Organisation) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    manager = user_with_password(Role.MANAGER, department=org.east, username="boss")
    customer(org.rep, created=timezone.localdate(), industry="34")
    sign_in(page, "boss")
    page.goto(f"{page.base_url}/analytics/targets/new/")
    page.fill("[name=name]", "本季度新增制造业中小企业")
    page.select_option("[name=period_kind]", "quarter")
    page.fill("[name=start]", timezone.localdate().isoformat())
    page.select_option("[name=department]", str(org.east.pk))
    page.select_option("[name=measure]", "new_customers")
    page.fill("[name=value]", "4")
    page.select_option("[name=industry]", "C")
    page.check("[name=size_bands][value=lt50]")
    page.check("[name=size_bands][value='50-300']")
    page.click("#target-form button[type=submit]")
    page.wait_for_selector("#target-list")
    made = Target.objects.get()
    assert made.created_by == manager
    row = page.locator(f'#target-list [data-target="{made.pk}"]')
    assert row.locator("[data-attainment]").get_attribute("data-attainment") == "25.0"
    # nothing sticks out of the phone's screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(f"{page.base_url}/")
    panel = page.locator(f'#targets-manager-panel [data-target="{made.pk}"]')
    assert panel.locator("[data-attainment]").get_attribute("data-attainment") == "25.0"
