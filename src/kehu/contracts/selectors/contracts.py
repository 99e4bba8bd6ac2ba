"""Reads of contracts, scoped first (``Contract.objects.visible_to``): who sees the deal sees its
contract, its amount masked like the deal's."""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Q, QuerySet

from kehu.accounts.models import Role, User
from kehu.contracts.models import Contract, ContractReview, ContractStatus
from kehu.core.access import is_admin
from kehu.core.errors import NotFound
from kehu.core.filters import ListFilters
from kehu.core.numbers import Id
from kehu.opportunities.models import Opportunity

Box = Literal["all", "mine", "to_review"]
LIST_RELATED = ("opportunity__owner", "opportunity__customer", "opportunity__stage", "created_by")


class ContractFilters(ListFilters):
    """``box``: mine (contracts of my deals or drafted by me), to_review (in review, on deals of
    others in my scope: a manager's queue), all (every one I see)."""

    box: Box = "all"
    status: ContractStatus | None = None
    opportunity_id: Id | None = None
    q: str = ""

    def apply(self, queryset: QuerySet[Any], *args: Any, **kwargs: Any) -> QuerySet[Any]:
        user: User = kwargs["user"]
        if self.box == "mine":
            queryset = queryset.filter(Q(opportunity__owner=user) | Q(created_by=user))
        elif self.box == "to_review":
            queryset = to_review(queryset, user)
        if self.status:
            queryset = queryset.filter(status=self.status)
        if self.opportunity_id is not None:
            queryset = queryset.filter(opportunity_id=self.opportunity_id)
        term = self.q.strip()[:100]
        if term:
            queryset = queryset.filter(
                Q(number__icontains=term)
                | Q(title__icontains=term)
                | Q(opportunity__customer__name__icontains=term)
            )
        return queryset


def to_review(queryset: QuerySet[Contract], user: User) -> QuerySet[Contract]:
    """Contracts in review a reviewer may decide: in scope, neither drafted nor owned by them.
    (A manager sees the deals of their departments; the service checks the exact rule.)"""
    if not (is_admin(user) or user.role == Role.MANAGER):
        return queryset.none()
    return (
        queryset.filter(status=ContractStatus.IN_REVIEW)
        .exclude(created_by=user)
        .exclude(opportunity__owner=user)
    )


def contract_list(*, user: User, filters: ContractFilters | None = None) -> QuerySet[Contract]:
    rows: QuerySet[Contract] = (
        Contract.objects.visible_to(user).select_related(*LIST_RELATED).order_by("-id")
    )
    if filters is not None:
        rows = filters.apply(rows, user=user)
    return rows


def contract_get(*, user: User, contract_id: int) -> Contract:
    contract = (
        Contract.objects.visible_to(user)
        .select_related(*LIST_RELATED, "reviewed_by")
        .filter(pk=contract_id)
        .first()
    )
    if contract is None:
        raise NotFound("contract")
    return contract


def contract_editable(*, user: User, contract_id: int) -> bool:
    return Contract.objects.editable_by(user).filter(pk=contract_id).exists()


def reviews_of(contract: Contract) -> list[ContractReview]:
    return list(contract.reviews.select_related("reviewer"))


def deal_contracts(*, user: User, opportunity: Opportunity) -> list[Contract]:
    return list(
        Contract.objects.visible_to(user)
        .filter(opportunity_id=opportunity.pk)
        .select_related("created_by", "reviewed_by")
        .order_by("-id")
    )


def to_review_count(user: User) -> int:
    return to_review(Contract.objects.visible_to(user), user).count()


def has_approved_contract(opportunity: Opportunity) -> bool:
    """The ``contract_approved`` requirement: an approved contract on the deal (a repeat order's
    contract counts too: it is approved paper)."""
    if not opportunity.pk:
        return False
    return Contract.objects.filter(
        opportunity_id=opportunity.pk, status=ContractStatus.APPROVED
    ).exists()
