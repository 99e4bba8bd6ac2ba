from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from django.test import Client

from kehu.accounts import services as accounts
from kehu.accounts.models import Department, Role, User
from kehu.core import bulk

_counter = itertools.count(1)


def make_user(
    role: str = Role.SALES, *, department: Department | None = None, **extra: Any
) -> User:
    username = extra.pop("username", f"{role}{next(_counter)}")
    return accounts.user_create(
        username=username, role=role, department=department, password=None, **extra
    )


@dataclass
class Organisation:
    """华东区 (manager) → 上海组 (two reps) and 杭州组 (one rep); 华南区 (its own manager)."""

    east: Department
    shanghai: Department
    hangzhou: Department
    south: Department
    admin: User
    east_manager: User
    south_manager: User
    rep: User
    colleague: User
    hangzhou_rep: User
    south_rep: User
    service: User
    marketing: User


def make_organisation() -> Organisation:
    east = accounts.department_create(name="华东区")
    shanghai = accounts.department_create(name="上海组", parent=east)
    hangzhou = accounts.department_create(name="杭州组", parent=east)
    south = accounts.department_create(name="华南区")
    return Organisation(
        east=east,
        shanghai=shanghai,
        hangzhou=hangzhou,
        south=south,
        admin=make_user(Role.ADMIN, username="admin"),
        east_manager=make_user(Role.MANAGER, department=east, username="east_manager"),
        south_manager=make_user(Role.MANAGER, department=south, username="south_manager"),
        rep=make_user(Role.SALES, department=shanghai, username="rep"),
        colleague=make_user(Role.SALES, department=shanghai, username="colleague"),
        hangzhou_rep=make_user(Role.SALES, department=hangzhou, username="hangzhou_rep"),
        south_rep=make_user(Role.SALES, department=south, username="south_rep"),
        service=make_user(Role.SERVICE, username="service"),
        marketing=make_user(Role.MARKETING, username="marketing"),
    )


def api_client(user: User) -> Client:
    """A test client that authenticates every request with a fresh Bearer token of ``user``."""
    token = accounts.token_create(user=user, name="test").plaintext
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def index_names(model: type[Any]) -> set[str]:
    """The secondary indexes of ``model``'s table as the database reports them now."""
    from django.db import connection

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {name for name, info in found.items() if info["index"] and not info["primary_key"]}


def foreign_key_names(model: type[Any]) -> set[str]:
    """The foreign-key constraints of ``model``'s table as the database reports them now."""
    from django.db import connection

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {name for name, info in found.items() if info["foreign_key"]}


def record_deferrals(monkeypatch: Any) -> list[bool]:
    """The ``defer`` of every ``bulk.deferred_indexes`` call from now on (the calls still run)."""
    calls: list[bool] = []
    original = bulk.deferred_indexes

    def spy(*models: Any, defer: bool = True, atomic: bool = True) -> Any:
        calls.append(defer)
        return original(*models, defer=defer, atomic=atomic)

    monkeypatch.setattr(bulk, "deferred_indexes", spy)
    return calls
