"""The import page in a real browser: upload, check, import, see the verification report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kehu.accounts.models import Role
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.customers.models import Customer
from kehu.transfer.tests.helpers import customer_rows, write_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_check_and_import(page: Any, tmp_path: Path) -> None:
    user_with_password(Role.ADMIN, username="boss")
    rows = customer_rows(5)
    rows[1][5] = "123"
    path = write_csv(tmp_path / "客户.csv", rows, encoding="gbk")
    sign_in(page, "boss")
    page.goto(f"{page.base_url}/transfer/")
    assert page.locator("#transfer-title").inner_text() == "导入导出"
    page.set_input_files("#id_file", str(path))
    with page.expect_navigation():
        page.click("#upload-submit")
    assert page.locator("#count-new").inner_text() == "4"
    assert page.locator("#count-invalid").inner_text() == "1"
    assert "123" in page.locator("#error-list").inner_text()
    assert page.locator("#job-status").inner_text() == "已检查（试运行）"
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#start-import")
    assert page.locator("#count-created").inner_text() == "4"
    assert page.locator("#overall-completeness").inner_text() == "100.0%"
    assert page.locator(".progress-bar").get_attribute("style") == "width: 100%;"
    assert Customer.objects.count() == 4
