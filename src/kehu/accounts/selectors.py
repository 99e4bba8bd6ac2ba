from __future__ import annotations

from django.db.models import Count, QuerySet

from kehu.accounts.models import ApiToken, Department, User


def token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def department_tree() -> list[tuple[Department, int]]:
    """Departments in tree order with their depth, for indented display."""
    departments = Department.objects.select_related("head").annotate(member_count=Count("members"))
    return [(department, department.path.count("/") - 2) for department in departments]


def user_list() -> QuerySet[User]:
    return User.objects.select_related("department").order_by("department__path", "username")
