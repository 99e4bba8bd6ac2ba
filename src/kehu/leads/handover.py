"""The leads a leaving user hands over (离职交接), registered with accounts' offboarding.

Open leads (assigned or confirmed) go to the successor through ``lead_assign``, so each has
its assignment event and restarts confirmation with its new rep. Leads awaiting review stay:
the admin's review closes them or sends them back to assignment, never back to the rep.
Closed and converted leads stay with the leaving user, as history.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from kehu.accounts.models import User
from kehu.accounts.offboarding import HandoverKind, register_handover
from kehu.leads.models import OPEN_STATUSES, Lead
from kehu.leads.services import lead_assign


def open_leads(user: User) -> QuerySet[Lead]:
    return Lead.objects.filter(assignee_id=user.pk, status__in=OPEN_STATUSES)


def reassign_leads(*, actor: User, records: Sequence[Lead], successor: User, reason: str) -> None:
    for lead in records:
        lead_assign(actor=actor, lead=lead, assignee=successor, note=reason)


def register() -> None:
    register_handover(
        HandoverKind(
            key="leads",
            label=Lead._meta.verbose_name_plural,
            rows=open_leads,
            reassign=reassign_leads,
            order=20,
        )
    )
