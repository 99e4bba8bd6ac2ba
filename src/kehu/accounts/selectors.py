from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from kehu.accounts.models import ApiToken, Department, Role, User


def token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def department_tree() -> list[tuple[Department, int]]:
    """Departments in tree order with their depth, for indented display."""
    departments = Department.objects.select_related("head").annotate(member_count=Count("members"))
    return [(department, department.path.count("/") - 2) for department in departments]


def user_list() -> QuerySet[User]:
    return User.objects.select_related("department").order_by("department__path", "username")


def ancestor_ids(department_id: int) -> list[int]:
    """The department and every department above it, root first (from the materialised path)."""
    path = Department.objects.filter(pk=department_id).values_list("path", flat=True).first()
    return [int(part) for part in (path or "").strip("/").split("/") if part]


def department_supervisors(department_id: int | None, *, exclude: int | None = None) -> list[User]:
    """The head and managers of the nearest department, from ``department_id`` upwards, that has
    any active one: who a rep's work is escalated to (销售主管). Two queries at any depth."""
    if department_id is None:
        return []
    chain = ancestor_ids(department_id)
    heads = dict(
        Department.objects.filter(pk__in=chain, head__is_active=True).values_list("pk", "head_id")
    )
    candidates = (
        User.objects.filter(is_active=True)
        .filter(Q(pk__in=heads.values()) | Q(role=Role.MANAGER, department_id__in=chain))
        .order_by("pk")
    )
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude)
    by_department: dict[int, dict[int, User]] = {pk: {} for pk in chain}
    for user in candidates:
        for department_pk, head_id in heads.items():
            if head_id == user.pk:
                by_department[department_pk][user.pk] = user
        if user.role == Role.MANAGER and user.department_id in by_department:
            by_department[user.department_id][user.pk] = user
    for department_pk in reversed(chain):
        if by_department[department_pk]:
            return list(by_department[department_pk].values())
    return []
