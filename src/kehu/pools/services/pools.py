"""Pool settings and membership, and the helpers the other pool services share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, User
from kehu.core import audit
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version, validate
from kehu.pools.access import member_pool_filter
from kehu.pools.models import Pool

POOL_FIELDS = (
    "name",
    "description",
    "max_held_per_rep",
    "max_claims_per_day",
    "recycle_no_followup_days",
    "recycle_no_deal_days",
    "warn_days_before",
    "cooling_days",
    "is_active",
)


def _field_error(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={name: [message]})


def _clean_reason(reason: str, *, required: bool = True) -> str:
    text = (reason or "").strip()
    if required and not text:
        raise _field_error("reason", _("Give a reason."))
    if len(text) > 300:
        raise _field_error("reason", _("Keep the reason under 300 characters."))
    return text


def _require_admin(actor: Any) -> None:
    if not is_admin(actor):
        raise Forbidden(_("Only CRM administrators may do this."))


# --- Pools ------------------------------------------------------------------------------------


def _resolve_departments(values: Iterable[Any]) -> list[Department]:
    ids: list[int] = []
    for value in values:
        try:
            ids.append(int(value.pk if isinstance(value, Department) else value))
        except (TypeError, ValueError) as error:
            raise _field_error("departments", _("Choose existing departments.")) from error
    found = list(Department.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise _field_error("departments", _("Choose existing departments."))
    return found


@audit.audited("pools.pool_created")
@transaction.atomic
def pool_create(*, actor: User, data: dict[str, Any], departments: Iterable[Any] = ()) -> Pool:
    """A new pool (admins); ``data`` holds the name and the per-pool limits."""
    _require_admin(actor)
    unknown = sorted(set(data) - set(POOL_FIELDS))
    if unknown:
        raise InvalidInput(errors={name: [_("This field cannot be set here.")] for name in unknown})
    pool = Pool(**data)
    validate(pool)
    member_departments = _resolve_departments(departments)
    stamp(pool, actor=actor, reason=_("Created"))
    pool.save()
    pool.departments.set(member_departments)
    return pool


@audit.audited("pools.pool_changed", target="pool", fields="changes")
@transaction.atomic
def pool_update(
    *,
    actor: User,
    pool: Pool,
    changes: dict[str, Any],
    departments: Iterable[Any] | None = None,
    version: int | None = None,
) -> Pool:
    """Change a pool's name, limits or member departments (admins)."""
    _require_admin(actor)
    locked = Pool.objects.select_for_update().get(pk=pool.pk)
    check_version(locked, version)
    unknown = sorted(set(changes) - set(POOL_FIELDS))
    if unknown:
        raise InvalidInput(errors={name: [_("This field cannot be set here.")] for name in unknown})
    for name, value in changes.items():
        setattr(locked, name, value)
    validate(locked)
    bump_version(locked)
    stamp(locked, actor=actor)
    locked.save()
    if departments is not None:
        locked.departments.set(_resolve_departments(departments))
    return locked


def member_pool_or_404(user: Any, pool_id: int) -> Pool:
    """An active pool the user belongs to; any other pool answers 404."""
    pool = (
        Pool.objects.filter(member_pool_filter(user), pk=pool_id, is_active=True).distinct().first()
    )
    if pool is None:
        raise NotFound("customer pool")
    return pool


def is_member(user: Any, pool: Pool) -> bool:
    return Pool.objects.filter(member_pool_filter(user), pk=pool.pk).exists()


def home_pools(department_ids: Iterable[int | None]) -> dict[int, Pool]:
    """The pool each department's customers belong to: the active pool with the deepest
    member department at or above it (ties: the oldest pool)."""
    wanted = {pk for pk in department_ids if pk}
    if not wanted:
        return {}
    paths = dict(Department.objects.filter(pk__in=wanted).values_list("pk", "path"))
    links = (
        Pool.departments.through.objects.filter(pool__is_active=True)
        .select_related("pool", "department")
        .order_by("pool_id")
    )
    by_department: dict[int, list[tuple[int, Pool]]] = defaultdict(list)
    for link in links:
        by_department[link.department_id].append((len(link.department.path), link.pool))
    result: dict[int, Pool] = {}
    for department_id, path in paths.items():
        best: tuple[int, Pool] | None = None
        for part in (path or "").split("/"):
            if not part:
                continue
            for depth, pool in by_department.get(int(part), []):
                if best is None or depth > best[0]:
                    best = (depth, pool)
        if best is not None:
            result[department_id] = best[1]
    return result


def _notify(
    *, recipients: Iterable[User], kind: str, title: str, body: str, url: str, dedupe_key: str = ""
) -> int:
    if not apps.is_installed("kehu.notifications"):
        return 0
    # notifications is an optional app: its models may only be imported when it is installed.
    from kehu.notifications.services import notify

    return notify(
        recipients=recipients, kind=kind, title=title, body=body, url=url, dedupe_key=dedupe_key
    )
