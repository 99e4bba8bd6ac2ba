"""``kehu demo``: a realistic company (departments, users of every role) and its data."""

from __future__ import annotations

import time

from django.db import transaction

from kehu.accounts import services as accounts
from kehu.accounts.models import Department, Role, User

DEMO_PASSWORD = "kehu-demo-2024"

# (username, display name, role, department path)
DEMO_USERS = [
    ("admin", "系统管理员", Role.ADMIN, ["总部"]),
    ("wang.manager", "王经理", Role.MANAGER, ["总部", "华东区"]),
    ("li.sales", "李销售", Role.SALES, ["总部", "华东区", "上海组"]),
    ("zhang.sales", "张销售", Role.SALES, ["总部", "华东区", "杭州组"]),
    ("chen.manager", "陈经理", Role.MANAGER, ["总部", "华南区"]),
    ("zhao.sales", "赵销售", Role.SALES, ["总部", "华南区", "广州组"]),
    ("liu.service", "刘客服", Role.SERVICE, ["总部", "客服部"]),
    ("sun.marketing", "孙市场", Role.MARKETING, ["总部", "市场部"]),
]


@transaction.atomic
def ensure_demo_users() -> list[User]:
    users: list[User] = []
    for username, display_name, role, path in DEMO_USERS:
        department = accounts.department_get_or_create_path(path)
        user = User.objects.filter(username=username).first()
        if user is None:
            user = accounts.user_create(
                username=username,
                role=role,
                password=DEMO_PASSWORD,
                department=department,
                display_name=display_name,
                email=f"{username}@demo.kehu.local",
            )
            if role == Role.ADMIN:
                User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
        if role == Role.MANAGER and department.head_id is None:
            Department.objects.filter(pk=department.pk).update(head=user)
        users.append(user)
    return users


def load_demo(*, customers: int, seed: int, if_empty: bool = False) -> str:
    from kehu.customers.demo import customer_indexes_deferred, generate_customers
    from kehu.customers.models import Customer
    from kehu.followups.demo import generate_followups
    from kehu.opportunities.demo import generate_opportunities

    started = time.perf_counter()
    users = ensure_demo_users()
    if if_empty and Customer.objects.exists():
        return "Demo data already present; nothing loaded."
    # the deals mark their customers won: before the customer indexes are built, not after
    with customer_indexes_deferred(customers):
        created = generate_customers(count=customers, seed=seed, users=users, defer_indexes=False)
        opportunities = generate_opportunities(seed=seed)
    followups = generate_followups(seed=seed)
    seconds = time.perf_counter() - started
    return (
        f"Demo loaded in {seconds:.1f}s: {created} customers, {opportunities} opportunities, "
        f"{followups} follow-ups; users "
        f"{', '.join(u.username for u in users)} (password {DEMO_PASSWORD})"
    )
