"""Reads of the handovers, scoped first (``Handover.objects.visible_to``)."""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import QuerySet

from kehu.accounts.models import User
from kehu.core.errors import NotFound
from kehu.core.filters import ListFilters
from kehu.core.numbers import Id
from kehu.service.models import Handover, HandoverAttachment, HandoverStatus, RoutingRule

Box = Literal["all", "mine", "to_confirm", "drafts"]


class HandoverFilters(ListFilters):
    """``box``: mine (I write them), to_confirm (appointed to me, awaiting my confirmation),
    drafts (mine still to complete), all (every one I see: the team's)."""

    box: Box = "all"
    status: HandoverStatus | None = None
    customer_id: Id | None = None

    def apply(self, queryset: QuerySet[Any], *args: Any, **kwargs: Any) -> QuerySet[Any]:
        user: User = kwargs["user"]
        if self.box == "mine":
            queryset = queryset.filter(owner=user)
        elif self.box == "drafts":
            queryset = queryset.filter(owner=user, status=HandoverStatus.DRAFT)
        elif self.box == "to_confirm":
            queryset = queryset.filter(specialist=user, status=HandoverStatus.PENDING)
        if self.status:
            queryset = queryset.filter(status=self.status)
        if self.customer_id is not None:
            queryset = queryset.filter(customer_id=self.customer_id)
        return queryset


LIST_RELATED = ("customer", "owner", "specialist", "department", "opportunity")


def handover_list(*, user: User, filters: HandoverFilters | None = None) -> QuerySet[Handover]:
    rows: QuerySet[Handover] = (
        Handover.objects.visible_to(user).select_related(*LIST_RELATED).order_by("-id")
    )
    if filters is not None:
        rows = filters.apply(rows, user=user)
    return rows


def handover_get(*, user: User, handover_id: int) -> Handover:
    handover = (
        Handover.objects.visible_to(user)
        .select_related(*LIST_RELATED, "appointed_by_rule")
        .filter(pk=handover_id)
        .first()
    )
    if handover is None:
        raise NotFound("handover")
    return handover


def handover_editable(*, user: User, handover_id: int) -> bool:
    return Handover.objects.editable_by(user).filter(pk=handover_id).exists()


def attachment_get(*, user: User, attachment_id: int) -> HandoverAttachment:
    """An attachment, through the scope of its handover (404 outside it)."""
    attachment = HandoverAttachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound("attachment")
    handover_get(user=user, handover_id=attachment.handover_id)
    return attachment


def waiting_for_confirmation(user: User) -> QuerySet[Handover]:
    return (
        Handover.objects.visible_to(user)
        .filter(specialist=user, status=HandoverStatus.PENDING)
        .select_related("customer", "owner")
        .order_by("submitted_at", "id")
    )


def drafts_to_complete(user: User) -> QuerySet[Handover]:
    return (
        Handover.objects.visible_to(user)
        .filter(owner=user, status=HandoverStatus.DRAFT)
        .select_related("customer")
        .order_by("-id")
    )


def routing_rule_list() -> QuerySet[RoutingRule]:
    return RoutingRule.objects.select_related("region", "industry", "department").prefetch_related(
        "members"
    )


def routing_rule_get(rule_id: int) -> RoutingRule:
    rule = routing_rule_list().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("routing rule")
    return rule


def customer_handovers(*, user: User, customer_id: int) -> QuerySet[Handover]:
    return (
        Handover.objects.visible_to(user)
        .filter(customer_id=customer_id)
        .select_related("owner", "specialist")
        .order_by("-id")
    )


TIMELINE_LIMIT = 20


def customer_handover_items(customer: Any, user: Any) -> Any:
    """The customer timeline's handover entries (submitted, confirmed), within the scope."""
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from kehu.customers.timeline import TimelineItem

    rows = customer_handovers(user=user, customer_id=customer.pk).exclude(
        status=HandoverStatus.DRAFT
    )[:TIMELINE_LIMIT]
    for handover in rows:
        url = reverse("service:handover_detail", args=[handover.pk])
        if handover.submitted_at:
            yield TimelineItem(
                when=handover.submitted_at,
                title=_("Handed over to service: %(specialist)s")
                % {"specialist": handover.specialist or "—"},
                body=str(handover.owner),
                icon="box-arrow-right",
                url=url,
                kind="handover",
            )
        if handover.confirmed_at:
            yield TimelineItem(
                when=handover.confirmed_at,
                title=_("Handover confirmed by %(specialist)s")
                % {"specialist": handover.specialist or "—"},
                icon="clipboard-check",
                url=url,
                kind="handover",
            )
