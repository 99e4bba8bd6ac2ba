"""Exports mask contacts' phones, email and WeChat per row, like the pages and the API."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from kehu.core import config
from kehu.core.testing.factories import api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.transfer.specs import spec_map

pytestmark = pytest.mark.django_db

CONTACTS = [
    {"name": "王伟", "mobile": "13812341234", "email": "wang.wei@corp.cn", "wechat": "wangwei88"},
    {"name": "李娜", "mobile": "13900001111", "email": "li.na@corp.cn"},
]


def _customers(org: Any) -> tuple[Customer, Customer]:
    east = customer_services.customer_create(
        actor=org.rep, data={"name": "上海华瑞精密机械有限公司"}, contacts=CONTACTS, force=True
    )
    east.shares.create(user=org.colleague, shared_by=org.rep)
    own = customer_services.customer_create(
        actor=org.colleague,
        data={"name": "上海同辉电子有限公司"},
        contacts=[{"name": "赵敏", "mobile": "13711112222", "email": "zhao.min@corp.cn"}],
        force=True,
    )
    return east, own


def _header(key: str) -> str:
    return spec_map("customers")[key].header.rstrip(" *")


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(content)))


def test_customer_export_masks_rows_without_full_access(org: Any) -> None:
    _customers(org)
    config.put("transfer.export_roles", ["admin", "sales", "marketing"])
    for user in (org.colleague, org.marketing):
        rows = _csv(api_client(user).get("/api/v1/exports/customers"))
        east = {row[_header("name")]: row for row in rows}["上海华瑞精密机械有限公司"]
        assert east[_header("contact_mobile")] == "138****1234"
        assert east[_header("contact_email")] == "wa***@corp.cn"
        assert east[_header("contact_wechat")] == "wa***8"
        assert "139****1111" in east["其他联系人 / Other contacts"]
        assert "13900001111" not in east["其他联系人 / Other contacts"]
    rows = _csv(api_client(org.colleague).get("/api/v1/exports/customers"))
    own = {row[_header("name")]: row for row in rows}["上海同辉电子有限公司"]
    assert own[_header("contact_mobile")] == "137 1111 2222"  # the colleague's own customer
    admin = _csv(api_client(org.admin).get("/api/v1/exports/customers"))
    assert {row[_header("contact_email")] for row in admin} == {
        "wang.wei@corp.cn",
        "zhao.min@corp.cn",
    }


def test_contact_export_masks_per_row(org: Any) -> None:
    _customers(org)
    config.put("transfer.export_roles", ["admin", "sales"])
    rows = _csv(api_client(org.colleague).get("/api/v1/exports/contacts"))
    shown = {row["联系人 / Contact name"]: row for row in rows}
    assert shown["王伟"]["手机 / Mobile"] == "138****1234"
    assert shown["王伟"]["邮箱 / Email"] == "wa***@corp.cn"
    assert shown["王伟"]["微信 / WeChat"] == "wa***8"
    assert shown["赵敏"]["手机 / Mobile"] == "137 1111 2222"
    assert shown["赵敏"]["邮箱 / Email"] == "zhao.min@corp.cn"
    response = api_client(org.admin).get("/api/v1/exports/contacts?format=xlsx")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    values = {row[4] for row in workbook.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert "138 1234 1234" in values
