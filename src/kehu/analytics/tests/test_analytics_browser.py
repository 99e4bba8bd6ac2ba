"""In Debian's chromium (issue 28, item 7): a manager sets a quarter's target, opens the
dashboard and sees its progress, opens the quarterly review of their department, exports it as
XLSX, and the file holds the same numbers as the page.

The target pages and the dashboard panels are the targets part of issue 28 (URL names
``analytics:targets`` / ``analytics:target_create``, the form's field names, ``data-target``
and ``data-attainment`` on the panels: docs/analytics.md); this test is written against that
contract and needs them merged.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from kehu.accounts.models import Role
from kehu.analytics.selectors.review import Quarter
from kehu.analytics.tests.reporting_support import customer
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.core.testing.factories import Organisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_target_dashboard_review_and_its_xlsx(page: Any, org: Organisation) -> None:
    quarter = Quarter.of(timezone.localdate())
    boss = user_with_password(Role.MANAGER, username="boss", department=org.east)
    # Two new customers of 华东区 this quarter: 40 % of a target of five.
    customer(org.rep)
    customer(org.hangzhou_rep)
    customer(org.south_rep)  # another region: not counted

    sign_in(page, boss.username)
    page.goto(page.base_url + reverse("analytics:targets"))
    page.goto(page.base_url + reverse("analytics:target_create"))
    form = page.locator("form:has([name=measure])")
    form.locator("[name=name]").fill("本季度新增5家客户")
    form.locator("[name=period_kind]").select_option("quarter")
    form.locator("[name=start]").fill(quarter.start.isoformat())
    form.locator("[name=end]").fill(quarter.end.isoformat())
    form.locator("[name=department]").select_option(str(org.east.pk))
    form.locator("[name=measure]").select_option("new_customers")
    form.locator("[name=value]").fill("5")
    form.locator("[type=submit]").last.click()
    create_url = reverse("analytics:target_create")
    page.wait_for_url(lambda url: create_url not in url)  # saved: no form errors

    # The manager's dashboard shows the department's target and its progress.
    page.goto(page.base_url + "/")
    panel = page.locator("[data-target]").filter(has_text="本季度新增5家客户").first
    panel.wait_for()
    attainment = panel.locator("[data-attainment]").first.inner_text()
    assert "40" in attainment, attainment

    # The quarterly review of the department, this quarter beside the previous one.
    page.goto(
        page.base_url + reverse("analytics:review") + f"?department={org.east.pk}&quarter={quarter}"
    )
    page.wait_for_selector("#review-comparison-chart[data-rendered=true]")
    assert page.locator("#review-title").get_attribute("data-quarter") == str(quarter)
    target_row = page.locator('[data-row="targets.attainment_pct"] [data-key=current]')
    assert float(target_row.get_attribute("data-value") or "nan") == 40.0
    assert "本季度新增5家客户" in page.locator("#review-targets-table").inner_text()
    shown = [
        [
            row.locator("td").nth(1).inner_text().strip(),
            *(
                row.locator(f"[data-key={key}]").get_attribute("data-value")
                for key in ("current", "previous", "change")
            ),
        ]
        for row in page.locator("#review-comparison-table tbody tr").all()
    ]
    assert shown

    with page.expect_download() as download_info:
        page.click("#review-export")
    download = download_info.value
    assert download.suggested_filename == f"kehu-review-{org.east.pk}-{quarter}.xlsx"
    workbook = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))  # no extension
    sheet = workbook[workbook.sheetnames[0]]
    in_file = [
        list(row) for row in sheet.iter_rows(min_row=4, max_row=3 + len(shown), values_only=True)
    ]
    assert len(in_file) == len(shown)
    for page_row, file_row in zip(shown, in_file, strict=True):
        assert page_row[0] == file_row[1]
        for text, cell in zip(page_row[1:], file_row[2:], strict=True):
            assert (float(text) if text else None) == (
                float(str(cell)) if cell is not None else None
            ), (
                page_row,
                file_row,
            )
