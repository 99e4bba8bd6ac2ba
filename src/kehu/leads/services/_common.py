"""Helpers the lead services share: events, notifications, locking, assignment of one lead."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Role, User
from kehu.accounts.selectors import department_supervisors
from kehu.core import config
from kehu.core.access import is_admin, managed_department_ids
from kehu.core.history import stamp
from kehu.core.services import bump_version
from kehu.leads import conf
from kehu.leads.models import (
    EventKind,
    Lead,
    LeadEvent,
    LeadStatus,
)
from kehu.notifications.services import notify


# --- Helpers ---------------------------------------------------------------------------------
def _event(
    lead: Lead, kind: str, *, actor: Any, note: str = "", data: dict[str, Any] | None = None
) -> LeadEvent:
    return LeadEvent.objects.create(
        lead=lead,
        kind=kind,
        actor=actor if _is_user(actor) else None,
        note=note[:500],
        data=data or {},
    )


def _is_user(actor: Any) -> bool:
    return isinstance(actor, User)


def _lead_url(lead_id: int) -> str:
    return reverse("leads:detail", args=[lead_id])


def _notify(
    *,
    recipients: Iterable[User],
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    actor: Any = None,
    dedupe_key: str = "",
) -> None:
    """An in-app notification, created in the same transaction as the change it reports."""
    users = [user for user in recipients if user is not None]
    if users:
        notify(
            recipients=users,
            kind=kind,
            title=title,
            body=body,
            url=url,
            actor=actor if _is_user(actor) else None,
            dedupe_key=dedupe_key,
        )


def managers_of(department_id: int | None) -> list[User]:
    """Who answers for a department's leads: its supervisors, else the CRM admins."""
    return department_supervisors(department_id) or list(
        User.objects.filter(is_active=True, role=Role.ADMIN)
    )


def _lock(lead: Lead) -> Lead:
    return Lead.objects.select_for_update().get(pk=lead.pk)


def _now() -> datetime:
    return timezone.now()


# --- Shared by capture, assignment and conversion ------------------------------------------
def _assign(
    lead: Lead, *, assignee: User, actor: Any, rule: str = "", note: str = "", how: str = "rule"
) -> None:
    now = _now()
    previous = lead.assignee_id
    lead.assignee = assignee
    lead.department_id = assignee.department_id
    lead.status = LeadStatus.ASSIGNED
    lead.assigned_at = now
    lead.confirm_due_at = now + timedelta(minutes=int(config.get(conf.CONFIRM_SLA_MINUTES.key)))
    lead.confirmed_at = None
    lead.sla_breached_at = None
    bump_version(lead)
    stamp(
        lead,
        actor=actor,
        reason=_("assigned by rule %(rule)s") % {"rule": rule} if rule else _("assigned"),
    )
    lead.save()
    _event(
        lead,
        EventKind.ASSIGNED,
        actor=actor,
        note=note,
        data={
            "assignee": assignee.pk,
            "previous": previous,
            "rule": rule,
            "how": how,
            "assignee_name": str(assignee),
        },
    )
    _notify(
        recipients=[assignee],
        kind="lead_assigned",
        title=_("New lead: %(lead)s") % {"lead": lead},
        body=_("Confirm within %(minutes)s minutes that the lead is contactable.")
        % {"minutes": config.get(conf.CONFIRM_SLA_MINUTES.key)},
        url=_lead_url(lead.pk),
        actor=actor,
        dedupe_key=f"lead-assigned-{lead.pk}-{lead.version}",
    )


def lead_may_manage(actor: User, lead: Lead) -> bool:
    """Admins, and managers over the lead's department (or of a lead not yet placed)."""
    if is_admin(actor):
        return True
    if actor.role != Role.MANAGER:
        return False
    return lead.department_id is None or lead.department_id in managed_department_ids(actor)
