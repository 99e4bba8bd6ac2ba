"""Demo users of every role in a small company's departments (``kehu demo``'s first step)."""

from __future__ import annotations

from django.db import transaction

from kehu.accounts import services as accounts
from kehu.accounts.models import Department, Role, User
from kehu.core.demo import DemoRun, DemoStep

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


def users_step(run: DemoRun) -> str:
    run.users = ensure_demo_users()
    names = ", ".join(user.username for user in run.users)
    return f"users {names} (password {DEMO_PASSWORD})"


USERS = DemoStep(key="users", order=0, run=users_step)
