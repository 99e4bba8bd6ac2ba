"""Reads of the audit trail (``core/audit.py``): the admins' searchable list."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from pydantic import field_validator

from kehu.core.access import is_admin
from kehu.core.days import on_days
from kehu.core.errors import Forbidden
from kehu.core.filters import ListFilters
from kehu.core.models import AuditEntry


class AuditFilters(ListFilters):
    """Search of the audit trail, the page, the API and the export alike.

    ``actor`` is a username (exact) or a user id; ``action`` a dotted name or its prefix
    (``auth`` or ``auth.`` for every sign-in entry); ``target_type`` an ``app.model`` label;
    ``target_id`` the target's id; ``date_from``/``date_to`` local days, both included.
    """

    actor: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @field_validator("actor", "action", "target_type", "target_id")
    @classmethod
    def _short(cls, value: str) -> str:
        value = value.strip()
        if len(value) > 150:
            raise ValueError(_("Keep this under 150 characters."))
        if "\x00" in value:  # PostgreSQL refuses NUL in a query
            raise ValueError(_("Remove the control characters."))
        return value

    def apply(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        if self.actor:
            by_name = Q(actor_name=self.actor)
            if self.actor.isascii() and self.actor.isdigit() and len(self.actor) < 10:
                by_name |= Q(actor_id=int(self.actor))
            entries = entries.filter(by_name)
        if self.action:
            if self.action.endswith("."):
                entries = entries.filter(action__startswith=self.action)
            elif "." in self.action:
                entries = entries.filter(action=self.action)
            else:
                entries = entries.filter(action__startswith=self.action + ".")
        if self.target_type:
            entries = entries.filter(target_type=self.target_type)
        if self.target_id:
            entries = entries.filter(target_id=self.target_id)
        return entries.filter(on_days("at", self.date_from, self.date_to))


def audit_may_view(user: Any) -> bool:
    return is_admin(user)


def require_audit(user: Any) -> None:
    if not audit_may_view(user):
        raise Forbidden(_("Only CRM administrators may read the audit trail."))


def audit_list(*, user: Any, filters: AuditFilters | None = None) -> QuerySet[AuditEntry]:
    """The entries matching ``filters``, newest first (administrators; others 403)."""
    require_audit(user)
    entries = AuditEntry.objects.order_by("-seq")
    return (filters or AuditFilters()).apply(entries)


def audit_actions(*, user: Any, recent: int = 5000) -> list[str]:
    """The action names of the latest ``recent`` entries, for the search's suggestions: one
    bounded query (a DISTINCT over the whole trail would read all of its index)."""
    require_audit(user)
    names = AuditEntry.objects.order_by("-seq").values_list("action", flat=True)[:recent]
    return sorted(set(names))
