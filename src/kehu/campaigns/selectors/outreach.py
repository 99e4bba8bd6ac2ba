"""Reads of templates, sends and their messages, each scoped through the access gate:
templates by their own policy, sends and messages through their campaign's."""

from __future__ import annotations

from typing import Any, NamedTuple

from django.db.models import QuerySet

from kehu.campaigns.models import (
    Campaign,
    CampaignMember,
    Message,
    MessageStatus,
    MessageTemplate,
    Send,
)
from kehu.core.access import policy_of
from kehu.core.masking import mask_email, mask_mobile, mask_wechat


def template_list(*, user: Any, channel: str = "", q: str = "") -> QuerySet[MessageTemplate]:
    rows = MessageTemplate.objects.visible_to(user).select_related("owner")
    if channel:
        rows = rows.filter(channel=channel)
    if q:
        rows = rows.filter(name__icontains=q)
    return rows.order_by("name", "id")


def template_get(*, user: Any, template_id: int) -> MessageTemplate | None:
    return MessageTemplate.objects.visible_to(user).filter(pk=template_id).first()


def campaign_get(*, user: Any, campaign_id: int) -> Campaign | None:
    return Campaign.objects.visible_to(user).filter(pk=campaign_id).first()


def send_list(*, user: Any, campaign: Campaign) -> QuerySet[Send]:
    # ``campaign`` was read through visible_to(user)
    return (
        Send.objects.filter(campaign=campaign)
        .select_related("template", "created_by")
        .order_by("-id")
    )


def send_get(*, user: Any, send_id: int) -> Send | None:
    visible = Campaign.objects.visible_to(user).values("pk")
    return (
        Send.objects.filter(pk=send_id, campaign__in=visible)
        .select_related("campaign", "template", "created_by")
        .first()
    )


def message_list(*, send: Send, status: str = "") -> QuerySet[Message]:
    rows = Message.objects.filter(send=send).select_related(
        "member__contact__customer", "member__lead"
    )
    if status in MessageStatus.values:
        rows = rows.filter(status=status)
    return rows.order_by("id")


def member_get(*, campaign: Campaign, member_id: int) -> CampaignMember | None:
    return (
        CampaignMember.objects.filter(campaign=campaign, pk=member_id)
        .select_related("campaign", "contact__customer__owner", "lead__assignee")
        .first()
    )


def member_choices(*, campaign: Campaign, limit: int = 50) -> list[CampaignMember]:
    """The first members, to pick one for a preview."""
    return list(
        CampaignMember.objects.filter(campaign=campaign)
        .select_related("contact__customer", "lead")
        .order_by("id")[:limit]
    )


class ShownAddress(NamedTuple):
    name: str
    address: str
    masked: bool


_MASK_BY_CHANNEL = {"email": mask_email, "sms": mask_mobile, "wecom": mask_wechat}


def message_address(user: Any, send: Send, message: Message) -> ShownAddress:
    """A message's recipient as ``user`` may see them: the address masked unless they have
    full access to the person's customer (or lead), as everywhere else (docs/permissions.md).
    A test send's address is the sender's own."""
    member = message.member
    if send.is_test or member is None:
        return ShownAddress(str(send.created_by or ""), message.address, False)
    if member.contact_id:
        person: Any = member.contact
        name = person.name
        full = policy_of(type(person.customer)).has_full_access(user, person.customer)
    else:
        person = member.lead
        name = person.contact_name
        full = policy_of(type(person)).has_full_access(user, person)
    if full:
        return ShownAddress(name, message.address, False)
    return ShownAddress(name, _MASK_BY_CHANNEL[send.channel](message.address), True)
