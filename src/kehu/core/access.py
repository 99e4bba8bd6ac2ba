"""Row scope and field masking: the one access-control mechanism of Kehu.

Every model with owned rows uses ``ScopedQuerySet`` as its manager and declares an
``AccessPolicy``. Every read path (selectors, API, UI, search, reports, exports, downloads)
starts from ``Model.objects.visible_to(user)``; every write path from ``editable_by(user)``.
A row outside the scope answers 404, never 403, so its existence does not leak; a row the
user sees but may not edit answers 403 on write paths (``get_editable_or_404``,
``lock_editable``).

Roles (DESIGN.md): admin sees everything; a manager sees their department and the departments
below it; sales sees what it owns or what is shared with it; service and marketing get what
the model's policy grants them. Sensitive fields are visible to the owner, managers above the
record's department, and admins only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import Http404

from kehu.core.context import read_memo
from kehu.core.errors import NotFound, ReadOnly

if TYPE_CHECKING:
    from kehu.accounts.models import User

M = TypeVar("M", bound=models.Model)

MASK = "***"
ALL_ROWS = Q()
NO_ROWS = Q(pk__in=[])


def is_admin(user: Any) -> bool:
    return bool(user.is_active and (user.is_superuser or getattr(user, "role", "") == "admin"))


def _department_model() -> Any:
    # The user model's department: core knows the user model (AUTH_USER_MODEL), not accounts.
    return get_user_model()._meta.get_field("department").related_model


def managed_department_ids(user: Any) -> frozenset[int]:
    """Departments a manager answers for: their own and every one below it (cached per user)."""
    cached = getattr(user, "_kehu_managed_departments", None)
    if cached is not None:
        return cached
    ids: frozenset[int] = frozenset()
    path = department_path(user) if getattr(user, "role", "") == "manager" else ""
    if user.is_active and path:
        ids = frozenset(
            _department_model().objects.filter(path__startswith=path).values_list("id", flat=True)
        )
    user._kehu_managed_departments = ids
    return ids


def department_path(user: Any) -> str:
    """The materialised path of the user's department ("" without one), read once per user."""
    cached = getattr(user, "_kehu_department_path", None)
    if cached is not None:
        return cached
    path = ""
    loaded = getattr(getattr(user, "_state", None), "fields_cache", {}).get("department")
    if loaded is not None:
        path = loaded.path
    elif getattr(user, "department_id", None):
        found = (
            _department_model().objects.filter(pk=user.department_id).values_list("path", flat=True)
        )
        path = found.first() or ""
    user._kehu_department_path = path
    return path


ShareLookup = Callable[["User", bool], models.QuerySet[Any]]

# Up to this many shared/pooled ids are inlined into the scope as a literal list; beyond it
# the scope keeps the subqueries (correct, but PostgreSQL then cannot use the owner index).
INLINE_IDS_MAX = 500


def granted_rows(lookups: list[models.QuerySet[Any]]) -> Q | None:
    """``pk IN`` the ids granted beyond ownership (shares, pools), read in one query.

    ``owner = me OR id IN (SELECT … FROM shares)`` defeats the ``(owner, -id)`` index on both
    databases: PostgreSQL answers it with a sequential scan of every row (405 ms for a count at
    1,000,000 customers, bench/RESULTS.md), SQLite with a temporary B-tree sort. The grants are
    a handful of rows, so they are read when the queryset is built and inlined as a literal
    list, which both planners OR with an index scan; no grants, no branch at all.
    """
    unordered = [lookup.order_by() for lookup in lookups]
    combined = unordered[0].union(*unordered[1:]) if len(unordered) > 1 else unordered[0]
    ids = [next(iter(row.values())) for row in combined[: INLINE_IDS_MAX + 1]]
    if not ids:
        return None
    if len(ids) <= INLINE_IDS_MAX:
        return Q(pk__in=sorted(ids))
    subqueries = Q()
    for lookup in lookups:
        subqueries |= Q(pk__in=lookup)
    return subqueries


@dataclass(frozen=True)
class AccessPolicy:
    """How one model's rows are scoped.

    ``owner_field`` and ``department_field`` name the columns that decide ownership;
    ``shared_ids`` returns the primary keys shared with a user (read, or read-write);
    ``extra_ids`` are further such lookups the model's own app declares; other apps add theirs
    with ``grant()`` from their ``AppConfig.ready()`` (e.g. customer pools), so the model's
    app never imports them;
    ``role_view`` grants extra rows per role (e.g. marketing reads every customer);
    ``sensitive_fields`` are masked for users without full access to the row;
    ``contact_fields`` (phones, email) are shown masked to them (138****1234, by
    ``kehu.core.masking``) and left out of their change-history diffs.
    """

    owner_field: str = "owner"
    department_field: str | None = "department"
    shared_ids: ShareLookup | None = None
    extra_ids: tuple[ShareLookup, ...] = ()
    registered_ids: list[ShareLookup] = field(
        default_factory=list, compare=False, hash=False, repr=False
    )
    role_view: dict[str, Callable[[Any], Q]] = field(default_factory=dict)
    role_edit: dict[str, Callable[[Any], Q]] = field(default_factory=dict)
    sensitive_fields: tuple[str, ...] = ()
    contact_fields: tuple[str, ...] = ()

    def grant(self, lookup: ShareLookup) -> ShareLookup:
        """Add a lookup of rows granted beyond ownership, like ``extra_ids``; apps call it in
        ``AppConfig.ready()``. Registering the same lookup twice adds it once."""
        if lookup not in self.registered_ids:
            self.registered_ids.append(lookup)
        return lookup

    def _grant_lookups(self) -> tuple[ShareLookup, ...]:
        own = (self.shared_ids,) if self.shared_ids else ()
        return (*own, *self.extra_ids, *self.registered_ids)

    def _own_and_team(self, user: Any) -> tuple[Q, Q | None]:
        """The user's own rows, and their managed departments' (None: manages none)."""
        own = Q(**{self.owner_field: user})
        departments = managed_department_ids(user) if self.department_field else frozenset()
        if not departments:
            return own, None
        return own, Q(**{f"{self.department_field}__in": departments})

    def _team_filter(self, user: Any) -> Q:
        own, team = self._own_and_team(user)
        return own if team is None else own | team

    def _scope(self, user: Any, *, write: bool) -> Q:
        if not (user and user.is_authenticated and user.is_active):
            return NO_ROWS
        if is_admin(user):
            return ALL_ROWS
        scope = self._team_filter(user)
        extra = (self.role_edit if write else self.role_view).get(getattr(user, "role", ""))
        if extra is not None:
            scope |= extra(user)
        granted = self._granted(user, write=write)
        return scope | granted if granted is not None else scope

    def _granted(self, user: Any, *, write: bool) -> Q | None:
        """Rows shared or pooled to ``user``; read once per read-only request."""
        memo = read_memo()
        grants = self._grant_lookups()
        key = ("grants", grants, user.pk, write)
        if memo is not None and key in memo:
            return cast("Q | None", memo[key])
        lookups = [lookup(user, write) for lookup in grants]
        granted = granted_rows(lookups) if lookups else None
        if memo is not None:
            memo[key] = granted
        return granted

    def view_filter(self, user: Any) -> Q:
        return self._scope(user, write=False)

    def beyond_team_view_filter(self, user: Any) -> Q | None:
        """The rows ``user`` sees other than their own and their teams' (None: no such rows).

        Only these can be visible without full access, so a report can skip looking for them.
        """
        role_rows = self.role_view.get(getattr(user, "role", ""))
        granted = self._granted(user, write=False)
        if role_rows is None:
            return granted
        return role_rows(user) if granted is None else role_rows(user) | granted

    def view_parts(self, user: Any) -> list[Q]:
        """``view_filter(user)`` as disjoint filters: the manager's departments, the own rows
        (outside them), then the rows granted beyond them (shares, pools, role grants).

        A report over a whole view reads up to hundreds of thousands of rows; with the
        owner ORed to the departments or the grants, PostgreSQL reads them from the table (a
        bitmap of the indexes). Apart, each is one range of the department or owner index,
        which can answer a report alone (``Customer`` indexes, ``panel_figures``).
        """
        parts = self.full_access_parts(user)
        granted = self.granted_part(user)
        return parts if granted is None else [*parts, granted]

    def granted_part(self, user: Any) -> Q | None:
        """The last part of ``view_parts``: the rows ``user`` sees without full access
        (shares, pools, role grants beyond their own and their teams'); None: there are none.
        """
        if not (user and user.is_authenticated and user.is_active) or is_admin(user):
            return None
        beyond = self.beyond_team_view_filter(user)
        return None if beyond is None else beyond & ~self._team_filter(user)

    def full_access_filter(self, user: Any) -> Q | None:
        """The rows whose sensitive fields ``user`` sees, as ``has_full_access`` decides row
        by row (None: all of them)."""
        return None if is_admin(user) else self._team_filter(user)

    def full_access_parts(self, user: Any) -> list[Q]:
        """``full_access_filter`` as the first parts of ``view_parts``: the manager's
        departments, then the own rows outside them."""
        if not (user and user.is_authenticated and user.is_active):
            return [NO_ROWS]
        if is_admin(user):
            return [ALL_ROWS]
        own, team = self._own_and_team(user)
        return [own] if team is None else [team, own & ~team]

    def edit_filter(self, user: Any) -> Q:
        return self._scope(user, write=True)

    def own_filter(self, user: Any) -> Q:
        """The rows that are the user's own (owned, or assigned where the policy says so).

        Every scope contains them, so a list of "my" rows needs no further scope: at 1,000,000
        customers a manager's full scope costs a subquery over hundreds of thousands of rows
        that can only confirm what the own filter already says.
        """
        if not (user and user.is_authenticated and user.is_active):
            return NO_ROWS
        return Q(**{self.owner_field: user})

    def has_full_access(self, user: Any, row: models.Model) -> bool:
        """Owner, a manager above the row's department, or admin: may see sensitive fields."""
        if is_admin(user):
            return True
        owner_id = _related_id(row, self.owner_field)
        if owner_id is not None and owner_id == user.pk:
            return True
        if self.department_field:
            department_id = _related_id(row, self.department_field)
            return department_id is not None and department_id in managed_department_ids(user)
        return False

    def masked_fields(self, user: Any, row: models.Model) -> frozenset[str]:
        if not self.sensitive_fields or self.has_full_access(user, row):
            return frozenset()
        return frozenset(self.sensitive_fields)


def _related_id(row: models.Model, path: str) -> Any:
    """The id behind a policy field, following ``a__b`` paths (a contract's deal's owner)."""
    *hops, last = path.split("__")
    target: Any = row
    for hop in hops:
        target = getattr(target, hop, None)
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


class ScopedQuerySet(models.QuerySet[M], Generic[M]):
    """QuerySet whose ``visible_to`` / ``editable_by`` apply the model's ``access_policy``."""

    def _policy(self) -> AccessPolicy:
        policy = getattr(self.model, "access_policy", None)
        if not isinstance(policy, AccessPolicy):
            raise TypeError(f"{self.model.__name__} declares no access_policy")
        return policy

    def visible_to(self, user: Any) -> ScopedQuerySet[M]:
        return self.filter(self._policy().view_filter(user))

    def editable_by(self, user: Any) -> ScopedQuerySet[M]:
        return self.filter(self._policy().edit_filter(user))

    def visible_parts(self, user: Any) -> list[ScopedQuerySet[M]]:
        """``visible_to(user)`` as disjoint querysets (``AccessPolicy.view_parts``)."""
        return [self.filter(part) for part in self._policy().view_parts(user)]

    def full_access_parts(self, user: Any) -> list[ScopedQuerySet[M]]:
        """The rows ``user`` fully sees, as disjoint querysets (``AccessPolicy``'s)."""
        return [self.filter(part) for part in self._policy().full_access_parts(user)]

    def granted_part(self, user: Any) -> ScopedQuerySet[M] | None:
        """The rows ``user`` sees without full access (``AccessPolicy.granted_part``)."""
        granted = self._policy().granted_part(user)
        return None if granted is None else self.filter(granted)

    def own_of(self, user: Any) -> ScopedQuerySet[M]:
        """The user's own rows (``AccessPolicy.own_filter``): a subset of ``visible_to``."""
        return self.filter(self._policy().own_filter(user))


def policy_of(model: type[models.Model] | models.Model) -> AccessPolicy:
    policy = getattr(model, "access_policy", None)
    if not isinstance(policy, AccessPolicy):
        raise TypeError(f"{model} declares no access_policy")
    return policy


def get_visible_or_404(queryset: models.QuerySet[M], user: Any, **lookup: Any) -> M:
    scoped: Any = queryset
    try:
        return scoped.visible_to(user).get(**lookup)
    except ObjectDoesNotExist as missing:
        raise Http404(str(queryset.model._meta.verbose_name)) from missing


def read_only_message() -> str:
    """The 403's message for a row the user sees but may not change."""
    return str(ReadOnly.default_detail)


def get_editable_or_404(queryset: models.QuerySet[M], user: Any, **lookup: Any) -> M:
    """The row for a write path: 403 if the user sees it but may not edit it, 404 if they do
    not see it (so its existence does not leak). The visibility query runs only on refusal."""
    scoped: Any = queryset
    try:
        return scoped.editable_by(user).get(**lookup)
    except ObjectDoesNotExist as missing:
        if scoped.visible_to(user).filter(**lookup).exists():
            raise PermissionDenied(read_only_message()) from missing
        raise Http404(str(queryset.model._meta.verbose_name)) from missing


def lock_editable(queryset: models.QuerySet[M], actor: Any, **lookup: Any) -> M:
    """The row for a service's write, locked (``select_for_update``) for the transaction.

    ``ReadOnly`` (a ``Forbidden``, 403) if the actor sees it but may not edit it;
    ``NotFound`` if they do not see it. The visibility query runs only on refusal.
    """
    scoped: Any = queryset
    row = scoped.editable_by(actor).select_for_update().filter(**lookup).first()
    if row is not None:
        return cast(M, row)
    what = str(queryset.model._meta.verbose_name)
    if scoped.visible_to(actor).filter(**lookup).exists():
        raise ReadOnly()
    raise NotFound(what)


def mask_values(data: dict[str, Any], hidden: Iterable[str]) -> dict[str, Any]:
    """Replace hidden fields' values by None (API) so clients can tell "masked" from "empty"."""
    for name in hidden:
        if name in data:
            data[name] = None
    return data
