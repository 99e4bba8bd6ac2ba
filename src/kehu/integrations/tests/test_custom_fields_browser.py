"""Issue 31, item 5, in a real browser: an administrator adds a choice field to customers, a
sales rep fills it on a customer, filters the list by it and exports it; a local HTTP
receiver gets the signed webhook of that change and verifies its signature."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest

from kehu.accounts.models import Role
from kehu.core import config, events
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.customers.tests.factories import make_customer
from kehu.integrations.models import CustomField
from kehu.integrations.services import webhooks
from kehu.integrations.tests.receiver import webhook_receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_adds_a_choice_field_a_rep_fills_filters_exports_and_a_webhook_follows(
    page: Any,
) -> None:
    admin = user_with_password(Role.ADMIN, username="boss")
    rep = user_with_password(Role.SALES, username="li")
    customer = make_customer(rep, name="上海星辰泵阀有限公司")
    make_customer(rep, name="杭州月亮阀门有限公司")
    config.put(webhooks.ALLOW_INTERNAL.key, True)  # the receiver listens on loopback
    config.put("transfer.export_roles", ["admin", "sales"])  # this company lets reps export
    with webhook_receiver() as (received, url):
        hook = webhooks.webhook_create(
            actor=admin,
            data={"name": "ERP", "url": url, "events": list(events.NAMES), "run_as": admin.pk},
        )
        received.secret = hook.secret

        # the administrator defines the field
        sign_in(page, "boss")
        page.goto(f"{page.base_url}/integrations/custom-fields/?kind=customer")
        page.fill("#id_key", "dealer_level")
        page.fill("#id_label_zh", "经销商级别")
        page.fill("#id_label_en", "Dealer level")
        page.select_option("#id_type", "choice")
        page.fill("#id_choices", "一级\n二级\n三级")
        page.check("#id_filterable")
        with page.expect_navigation():
            page.click("#add-custom-field")
        assert "经销商级别" in page.locator("#custom-field-list").inner_text()
        field = CustomField.objects.get()
        assert field.choices == ["一级", "二级", "三级"]
        assert field.filterable
        page.context.clear_cookies()

        # the rep fills it on a customer
        sign_in(page, "li")
        page.goto(f"{page.base_url}/customers/{customer.pk}/edit/")
        page.select_option('[name="custom.dealer_level"]', "二级")
        with page.expect_navigation():
            page.click("#save-customer")
        assert page.locator('[data-custom-field="dealer_level"]').inner_text() == "二级"
        customer.refresh_from_db()
        assert customer.custom == {"dealer_level": "二级"}

        # filters the list by it, with the field as a column
        page.goto(f"{page.base_url}/customers/")
        page.click("#customer-filters summary")
        page.check("#col-dealer_level")
        page.wait_for_url(lambda u: "columns=dealer_level" in u)
        page.select_option("#cf-dealer_level", "dealer_level:二级")
        page.wait_for_url(lambda u: "cf=dealer_level" in u)
        page.locator("#customer-table .customer-link").first.wait_for()
        names = page.locator("#customer-table .customer-link").all_inner_texts()
        assert names == ["上海星辰泵阀有限公司"]
        assert "二级" in page.locator("#customer-table tbody").inner_text()
        assert "经销商级别" in page.locator("#customer-table thead").inner_text()

        # exports it (the list's filters carried along)
        export_url = (
            f"{page.base_url}/transfer/export/?kind=customers&format=csv&cf=dealer_level:二级"
        )
        with page.expect_download() as download:
            page.evaluate("url => { window.location.href = url }", export_url)
        path = download.value.path()
        with open(path, encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(io.StringIO(handle.read())))
        assert len(rows) == 1
        assert rows[0]["经销商级别 / Dealer level"] == "二级"

        # the receiver got the change, signed
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            item["json"]["event"] == "customer.updated" for item in received.deliveries
        ):
            time.sleep(0.1)
        updates = [i for i in received.deliveries if i["json"]["event"] == "customer.updated"]
        assert updates, received.events
        delivery = updates[-1]
        assert delivery["verified"], "the signature did not verify"
        body = delivery["json"]
        assert body["data"]["custom"] == {"dealer_level": "二级"}
        assert "custom" in body["changes"]["fields"]
