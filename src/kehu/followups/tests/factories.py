"""Test data for the follow-up tests: customers built directly, so tests do not depend on
the customers app's validation rules."""

from __future__ import annotations

import itertools
from typing import Any

from kehu.accounts.models import User
from kehu.customers import hooks
from kehu.customers.models import Contact, Customer

_numbers = itertools.count(1)


def make_customer(owner: User | None, **extra: Any) -> Customer:
    number = next(_numbers)
    values: dict[str, Any] = {
        "number": f"T-FU-{number:05}",
        "name": extra.pop("name", f"测试客户{number}有限公司"),
        "owner": owner,
        "department": owner.department if owner is not None else None,
    }
    values.update(extra)
    customer = Customer.objects.create(**values)
    hooks.customers_changed([customer.pk])  # as customer_create reports it: plans its follow-up
    return customer


def make_contact(customer: Customer, **extra: Any) -> Contact:
    values: dict[str, Any] = {"customer": customer, "name": "张经理", "title": "采购经理"}
    values.update(extra)
    return Contact.objects.create(**values)
