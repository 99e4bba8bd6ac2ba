"""Reads of campaigns and their members, scoped first (``Campaign.objects.visible_to``):
marketing sees every campaign, a manager their departments' (and their own), a rep the ones
they own, admins all. Members are read through their campaign; their contact values are
masked as the customers' (or leads') own policy masks them for the viewer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, QuerySet, Sum
from pydantic import field_validator

from kehu.accounts.models import User
from kehu.campaigns.models import (
    Campaign,
    CampaignCost,
    CampaignForm,
    CampaignGoal,
    CampaignKind,
    CampaignMember,
    CampaignStatus,
    Response,
)
from kehu.core.access import policy_of
from kehu.core.errors import NotFound
from kehu.core.filters import ListFilters
from kehu.core.masking import contact_values
from kehu.core.numbers import Id
from kehu.customers.models import Customer
from kehu.leads.models import Lead

LIST_RELATED = ("owner", "department")


class CampaignFilters(ListFilters):
    """The campaign list: ``q`` (name), ``status``, ``kind``, ``owner_id``, ``department_id``,
    and the campaigns running in a period (``active_from`` … ``active_to``)."""

    q: str = ""
    status: CampaignStatus | None = None
    kind: CampaignKind | None = None
    owner_id: Id | None = None
    department_id: Id | None = None
    active_from: date | None = None
    active_to: date | None = None

    @field_validator("q")
    @classmethod
    def _short(cls, value: str) -> str:
        return value.strip()[:100]

    def apply(self, queryset: QuerySet[Any], *args: Any, **kwargs: Any) -> QuerySet[Any]:
        if self.q:
            queryset = queryset.filter(name__icontains=self.q)
        if self.status:
            queryset = queryset.filter(status=self.status)
        if self.kind:
            queryset = queryset.filter(kind=self.kind)
        if self.owner_id is not None:
            queryset = queryset.filter(owner_id=self.owner_id)
        if self.department_id is not None:
            queryset = queryset.filter(department_id=self.department_id)
        if self.active_from is not None:
            queryset = queryset.filter(ends_on__gte=self.active_from)
        if self.active_to is not None:
            queryset = queryset.filter(starts_on__lte=self.active_to)
        return queryset


def campaign_list(*, user: User, filters: CampaignFilters | None = None) -> QuerySet[Campaign]:
    rows: QuerySet[Campaign] = (
        Campaign.objects.visible_to(user)
        .select_related(*LIST_RELATED)
        .order_by("-starts_on", "-id")
    )
    if filters is not None:
        rows = filters.apply(rows)
    return rows


def campaign_get(*, user: User, campaign_id: int) -> Campaign:
    campaign = (
        Campaign.objects.visible_to(user)
        .select_related(*LIST_RELATED, "created_by")
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        raise NotFound("campaign")
    return campaign


def goals_of(campaign: Campaign) -> list[CampaignGoal]:
    return list(campaign.goals.select_related("industry", "region").order_by("id"))


def costs_of(campaign: Campaign) -> list[CampaignCost]:
    return list(campaign.costs.select_related("recorded_by").order_by("-spent_on", "-id"))


def forms_of(campaign: Campaign) -> list[CampaignForm]:
    return list(campaign.forms.select_related("web_form").order_by("attached_at", "id"))


def member_summary(campaign: Campaign) -> dict[str, Any]:
    """Members per response and in all, cost spent (one query each)."""
    counts = dict(
        CampaignMember.objects.filter(campaign=campaign)
        .order_by()
        .values_list("response")
        .annotate(n=Count("id"))
        .values_list("response", "n")
    )
    spent = campaign.costs.aggregate(total=Sum("amount"))["total"]
    return {
        "members": sum(counts.values()),
        "by_response": [(value, label, counts.get(value, 0)) for value, label in Response.choices],
        "spent": spent or 0,
    }


# --- members ----------------------------------------------------------------------------------


class MemberFilters(ListFilters):
    """A campaign's member list: ``response``, and ``kind`` (contacts or leads)."""

    response: Response | None = None
    kind: str = ""

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in ("", "contact", "lead"):
            raise ValueError("contact or lead")
        return value

    def apply(self, queryset: QuerySet[Any], *args: Any, **kwargs: Any) -> QuerySet[Any]:
        if self.response:
            queryset = queryset.filter(response=self.response)
        if self.kind == "contact":
            queryset = queryset.filter(contact__isnull=False)
        elif self.kind == "lead":
            queryset = queryset.filter(lead__isnull=False)
        return queryset


MEMBER_FIELDS = (
    "id",
    "campaign_id",
    "contact_id",
    "lead_id",
    "customer_id",
    "segment_id",
    "response",
    "responded_at",
    "added_at",
    "contact__name",
    "contact__gender",
    "contact__title",
    "contact__mobile",
    "contact__work_phone",
    "contact__email",
    "contact__wechat",
    "contact__is_active",
    "customer__name",
    "customer__owner_id",
    "customer__department_id",
    "lead__contact_name",
    "lead__company_name",
    "lead__mobile",
    "lead__email",
    "lead__assignee_id",
    "lead__department_id",
)


def member_list(
    *, user: User, campaign: Campaign, filters: MemberFilters | None = None
) -> QuerySet[CampaignMember]:
    """The campaign's members newest first: one query for a page (the campaign is already
    known to be visible to ``user``); rows go through ``member_row`` for their masking."""
    rows = (
        CampaignMember.objects.filter(campaign=campaign)
        .select_related("contact", "customer", "lead")
        .only(*[name for name in MEMBER_FIELDS if name != "id"])
        .order_by("-id")
    )
    if filters is not None:
        rows = filters.apply(rows)
    return rows


def member_row(user: User, member: CampaignMember) -> dict[str, Any]:
    """A member as ``user`` may read it: the contact's phones and e-mail masked outside full
    access to its customer (a lead's outside full access to the lead)."""
    if member.contact_id is not None and member.contact is not None:
        contact = member.contact
        customer = member.customer
        masked = customer is None or not policy_of(Customer).has_full_access(user, customer)
        values = contact_values(contact, masked=masked)
        name = contact.name
        gender = contact.gender
        title = contact.title
        company = customer.name if customer is not None else ""
        kind = "contact"
    else:
        lead = member.lead
        masked = lead is None or not policy_of(Lead).has_full_access(user, lead)
        values = contact_values(
            {"mobile": lead.mobile if lead else "", "email": lead.email if lead else ""},
            masked=masked,
        )
        name = lead.contact_name if lead else ""
        gender = ""
        title = ""
        company = lead.company_name if lead else ""
        kind = "lead"
    return {
        "id": member.pk,
        "kind": kind,
        "contact_id": member.contact_id,
        "lead_id": member.lead_id,
        "customer_id": member.customer_id,
        "segment_id": member.segment_id,
        "name": name,
        "gender": gender,
        "title": title,
        "company": company,
        "mobile": values.get("mobile", ""),
        "email": values.get("email", ""),
        "masked": masked,
        "response": member.response,
        "response_name": str(member.get_response_display()),
        "responded_at": member.responded_at,
        "added_at": member.added_at,
    }


def member_counts_by_campaign(campaign_ids: list[int]) -> dict[int, int]:
    """Members per campaign for a list page (one grouped query)."""
    if not campaign_ids:
        return {}
    return dict(
        CampaignMember.objects.filter(campaign_id__in=campaign_ids)
        .order_by()
        .values("campaign_id")
        .annotate(n=Count("id"))
        .values_list("campaign_id", "n")
    )


def visible_campaign_ids(user: User, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(Campaign.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))
