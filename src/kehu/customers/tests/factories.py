"""Typed helpers for customer tests."""

from __future__ import annotations

import itertools
from typing import Any

from kehu.accounts.models import User
from kehu.customers import services
from kehu.customers.models import Customer

VALID_USCC = ["91310000MA1FL0000N", "91330100MA2B000005", "91440300MA5F000007"]
_names = itertools.count(1)
_WORDS = ["华瑞", "恒泰", "博创", "嘉和", "腾飞", "精工", "鑫源", "启航", "永隆", "明辉"]


def unique_name() -> str:
    n = next(_names)
    return f"测试{_WORDS[n % 10]}{_WORDS[(n // 10) % 10]}{n}号商贸有限公司"


def make_customer(actor: User, *, name: str = "", **data: Any) -> Customer:
    contacts = data.pop("contacts", ())
    tags = data.pop("tags", ())
    return services.customer_create(
        actor=actor,
        data={"name": name or unique_name(), **data},
        contacts=contacts,
        tags=tags,
        force=True,
    )
