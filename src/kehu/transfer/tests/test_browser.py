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


def test_followups_csv_through_the_page(page: Any, tmp_path: Path) -> None:
    """Choose 跟进记录, fix a column's mapping in the page, import, see the report."""
    from kehu.customers import services as customer_services
    from kehu.followups.models import FollowUp

    boss = user_with_password(Role.ADMIN, username="boss")
    customer = customer_services.customer_create(
        actor=boss, data={"name": "上海华瑞精密机械有限公司", "source": "trade_show"}, force=True
    )
    rows = [
        [customer.number, "2024-05-20 14:30", "电话", "介绍产品", "中性"],
        [customer.name, "2024/5/21", "拜访", "现场演示", "一般"],
        ["不存在的公司", "2024/5/22", "微信", "x", ""],
    ]
    path = write_csv(
        tmp_path / "跟进.csv",
        rows,
        headers=["客户", "跟进时间", "跟进方式", "跟进内容", "评价(旧系统)"],
        encoding="gbk",
    )
    sign_in(page, "boss")
    page.goto(f"{page.base_url}/transfer/")
    page.select_option("#id_kind", "followups")
    page.set_input_files("#id_file", str(path))
    with page.expect_navigation():
        page.click("#upload-submit")
    assert page.locator("#count-new").inner_text() == "2"
    assert page.locator("#count-invalid").inner_text() == "1"
    assert "不存在的公司" in page.locator("#error-list").inner_text()
    # an old system's column Kehu does not know: map it by hand, which checks again
    assert page.locator("select[name=col_4]").input_value() == ""
    page.select_option("select[name=col_4]", "sentiment")
    with page.expect_navigation():
        page.click("#apply-options")
    assert page.locator("#count-new").inner_text() == "2"
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#start-import")
    assert page.locator("#count-created").inner_text() == "2"
    assert page.locator("#overall-completeness").inner_text() == "100.0%"
    assert FollowUp.objects.filter(customer=customer).count() == 2
    assert set(FollowUp.objects.values_list("sentiment", flat=True)) == {"neutral"}
