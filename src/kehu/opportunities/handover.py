"""The opportunities a leaving user hands over (离职交接), registered with accounts' offboarding.

Every opportunity the user owns moves, won and lost ones included, so the successor answers
for the customer's whole pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from kehu.accounts.models import User
from kehu.accounts.offboarding import HandoverKind, register_handover
from kehu.opportunities.models import Opportunity
from kehu.opportunities.services import opportunity_reassign


def owned_opportunities(user: User) -> QuerySet[Opportunity]:
    return Opportunity.objects.filter(owner_id=user.pk)


def reassign_opportunities(
    *, actor: User, records: Sequence[Opportunity], successor: User, reason: str
) -> None:
    for opportunity in records:
        opportunity_reassign(actor=actor, opportunity=opportunity, owner=successor, reason=reason)


def register() -> None:
    register_handover(
        HandoverKind(
            key="opportunities",
            label=Opportunity._meta.verbose_name_plural,
            rows=owned_opportunities,
            reassign=reassign_opportunities,
            order=30,
        )
    )
