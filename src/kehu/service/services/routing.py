"""Who gets a handover or a ticket: the first active routing rule whose conditions match.

A rule's empty conditions match anything. Among its active members the rule picks
round-robin (after the member it picked last) or the least loaded (fewest open handovers or
open tickets). No matching rule, or a rule without active members: nobody is appointed and the
record waits for a manager to appoint someone by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from kehu.accounts.models import User
from kehu.service.models import (
    OPEN_TICKET_STATUSES,
    HandoverStatus,
    RoutingRule,
    RoutingStrategy,
    RoutingTarget,
)


@dataclass(frozen=True)
class Appointment:
    rule: RoutingRule | None
    user: User | None


NOBODY = Appointment(rule=None, user=None)


def _matches(
    rule: RoutingRule, *, ticket_type: str, region_code: str, industry_code: str, product: str
) -> bool:
    if rule.ticket_type and rule.ticket_type != ticket_type:
        return False
    # A province's rule covers its cities: region codes share the province's first two digits.
    if rule.region_id and not (region_code and region_code.startswith(rule.region_id.rstrip("0"))):
        return False
    if rule.industry_id and rule.industry_id != industry_code:
        return False
    return not (rule.product and rule.product.casefold() != product.casefold())


def _load_filter(target: str) -> Q:
    if target == RoutingTarget.HANDOVER:
        return Q(handovers_received__status__in=[HandoverStatus.PENDING, HandoverStatus.COMPLETED])
    return Q(assigned_tickets__status__in=OPEN_TICKET_STATUSES)


def _least_loaded(rule: RoutingRule, members: list[User]) -> User:
    related = "handovers_received" if rule.target == RoutingTarget.HANDOVER else "assigned_tickets"
    loads = dict(
        User.objects.filter(pk__in=[member.pk for member in members])
        .annotate(load=Count(related, filter=_load_filter(rule.target)))
        .values_list("pk", "load")
    )
    return min(members, key=lambda member: (loads.get(member.pk, 0), member.pk))


def _round_robin(rule: RoutingRule, members: list[User]) -> User:
    last = rule.last_member_id or 0
    after = [member for member in members if member.pk > last]
    chosen = after[0] if after else members[0]
    RoutingRule.objects.filter(pk=rule.pk).update(last_member=chosen)
    return chosen


def appoint(
    target: RoutingTarget | str,
    *,
    ticket_type: str = "",
    region_code: str = "",
    industry_code: str = "",
    product: str = "",
) -> Appointment:
    """The rule and the person for a new handover or ticket (``NOBODY`` if no rule applies)."""
    rules = RoutingRule.objects.filter(target=target, is_active=True).order_by("order", "id")
    for rule in rules.select_for_update():
        if not _matches(
            rule,
            ticket_type=ticket_type,
            region_code=region_code or "",
            industry_code=industry_code or "",
            product=product or "",
        ):
            continue
        members = list(rule.members.filter(is_active=True).order_by("pk"))
        if not members:
            continue
        pick = _round_robin if rule.strategy == RoutingStrategy.ROUND_ROBIN else _least_loaded
        return Appointment(rule=rule, user=pick(rule, members))
    return NOBODY
