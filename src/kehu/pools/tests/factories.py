"""Typed helpers for pool tests."""

from __future__ import annotations

import itertools
from typing import Any

from kehu.accounts.models import Department, User
from kehu.customers.models import Contact, Customer
from kehu.customers.normalize import company_key
from kehu.pools.models import Pool, PoolEntry

_seq = itertools.count(1)


def make_pool(*departments: Department, **limits: Any) -> Pool:
    pool = Pool.objects.create(name=limits.pop("name", f"公海{next(_seq)}"), **limits)
    pool.departments.set(departments)
    return pool


def make_customer(owner: User | None = None, *, name: str = "", **fields: Any) -> Customer:
    n = next(_seq)
    department = fields.pop("department", owner.department if owner else None)
    name = name or f"测试客户{n}号有限公司"
    return Customer.objects.create(
        number=f"T-{n:05}",
        name=name,
        name_key=company_key(name),
        owner=owner,
        department=department,
        **fields,
    )


def pooled_customer(pool: Pool, **fields: Any) -> Customer:
    customer = make_customer(None, **fields)
    PoolEntry.objects.create(customer=customer, pool=pool, reason="test")
    return customer


def add_contact(customer: Customer, **fields: Any) -> Contact:
    return Contact.objects.create(customer=customer, name=fields.pop("name", "张三"), **fields)
