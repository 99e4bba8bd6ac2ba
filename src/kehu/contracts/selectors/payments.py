"""Every read of payment plans and payments, scoped through the contract's deal first.

Amounts are sensitive (masked like the deal's amount): the card, the list and the API hide
them from whoever lacks full access to the deal, and the collected-vs-expected figures sum only
the contracts whose amounts the viewer sees (``full_access_parts``), saying when some were left
out. Every function runs a fixed number of queries, whatever the rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import field_validator

from kehu.accounts.models import Department, User
from kehu.contracts.models import (
    Contract,
    ContractStatus,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentPlan,
)
from kehu.contracts.services import payments as services
from kehu.core import config
from kehu.core.access import policy_of
from kehu.core.filters import ListFilters
from kehu.core.numbers import Id

ZERO = Decimal("0.00")


# --- the deal's card ----------------------------------------------------------------------------


@dataclass
class ContractPayments:
    """One contract of a deal with its installments and payments, as the card shows them."""

    contract: Contract
    masked: bool
    may_write: bool
    installments: list[services.Installment]
    payments: list[Payment]
    received: Decimal
    planned: Decimal

    @property
    def open_amount(self) -> Decimal:
        return self.contract.amount - self.received

    @property
    def unplanned(self) -> Decimal:
        return max(self.contract.amount - self.planned, ZERO)

    @property
    def accepts_payments(self) -> bool:
        return self.contract.status == ContractStatus.APPROVED

    @property
    def accepts_plans(self) -> bool:
        return self.contract.status != ContractStatus.VOID


@dataclass
class DealPayments:
    contracts: list[ContractPayments]
    approved_total: Decimal
    received_total: Decimal
    masked: bool
    fully_paid: bool
    overdue: int = 0
    first_payment_required: bool = True
    methods: list[tuple[str, str]] = field(default_factory=list)
    invoice_statuses: list[tuple[str, str]] = field(default_factory=list)

    @property
    def open_amount(self) -> Decimal:
        return max(self.approved_total - self.received_total, ZERO)


def deal_payments(*, user: User, opportunity: Any) -> DealPayments | None:
    """The deal's contracts (not void) with plans and payments; None when it has none the user
    sees. Three queries (contracts, plans, payments) and one for the write check."""
    contracts = list(
        Contract.objects.visible_to(user)
        .filter(opportunity_id=opportunity.pk)
        .exclude(status=ContractStatus.VOID)
        .select_related("opportunity")
        .order_by("id")
    )
    if not contracts:
        return None
    ids = [contract.pk for contract in contracts]
    plans: dict[int, list[PaymentPlan]] = defaultdict(list)
    for plan in PaymentPlan.objects.filter(contract_id__in=ids).order_by("due_on", "sequence"):
        plans[plan.contract_id].append(plan)
    payments: dict[int, list[Payment]] = defaultdict(list)
    for payment in (
        Payment.objects.filter(contract_id__in=ids)
        .select_related("plan", "recorded_by")
        .order_by("received_on", "id")
    ):
        payments[payment.contract_id].append(payment)
    editable = set(
        Contract.objects.editable_by(user).filter(pk__in=ids).values_list("pk", flat=True)
    )
    writer = user.is_superuser or user.role in services.WRITER_ROLES
    policy = policy_of(Contract)
    rows = []
    for contract in contracts:
        received = sum((p.amount for p in payments[contract.pk]), ZERO)
        planned = sum((p.amount for p in plans[contract.pk]), ZERO)
        rows.append(
            ContractPayments(
                contract=contract,
                masked=bool(policy.masked_fields(user, contract)),
                may_write=writer and contract.pk in editable,
                installments=services.installments(plans[contract.pk], received),
                payments=payments[contract.pk],
                received=received,
                planned=planned,
            )
        )
    approved = [row for row in rows if row.accepts_payments]
    approved_total = sum((row.contract.amount for row in approved), ZERO)
    received_total = sum((row.received for row in approved), ZERO)
    return DealPayments(
        contracts=rows,
        approved_total=approved_total,
        received_total=received_total,
        masked=any(row.masked for row in rows),
        fully_paid=bool(approved) and received_total >= approved_total,
        overdue=sum(1 for row in rows for i in row.installments if i.overdue),
        first_payment_required=bool(config.get(services.WON_REQUIRES_FIRST_PAYMENT.key)),
        methods=[(str(v), str(label)) for v, label in PaymentMethod.choices],
        invoice_statuses=[(str(v), str(label)) for v, label in InvoiceStatus.choices],
    )


# --- lists ------------------------------------------------------------------------------------


class PaymentFilters(ListFilters):
    """The payments list (page and API): by contract, deal, owner, dates, method, invoice."""

    contract_id: Id | None = None
    opportunity_id: Id | None = None
    owner_id: Id | None = None
    date_from: date | None = None
    date_to: date | None = None
    method: PaymentMethod | None = None
    invoice_status: InvoiceStatus | None = None
    q: str = ""

    @field_validator("q")
    @classmethod
    def _short(cls, value: str) -> str:
        value = value.strip()
        if len(value) > 100:
            raise ValueError("Search for at most 100 characters.")
        return value

    def apply(self, queryset: QuerySet[Any], *args: Any, **kwargs: Any) -> QuerySet[Any]:
        if self.contract_id is not None:
            queryset = queryset.filter(contract_id=self.contract_id)
        if self.opportunity_id is not None:
            queryset = queryset.filter(contract__opportunity_id=self.opportunity_id)
        if self.owner_id is not None:
            queryset = queryset.filter(contract__opportunity__owner_id=self.owner_id)
        if self.date_from is not None:
            queryset = queryset.filter(received_on__gte=self.date_from)
        if self.date_to is not None:
            queryset = queryset.filter(received_on__lte=self.date_to)
        if self.method:
            queryset = queryset.filter(method=self.method)
        if self.invoice_status:
            queryset = queryset.filter(invoice_status=self.invoice_status)
        if self.q:
            queryset = queryset.filter(
                Q(invoice_number__icontains=self.q)
                | Q(contract__number__icontains=self.q)
                | Q(contract__opportunity__customer__name__icontains=self.q)
            )
        return queryset


LIST_RELATED = (
    "contract__opportunity__customer",
    "contract__opportunity__owner",
    "plan",
    "recorded_by",
)


def payment_list(*, user: User, filters: PaymentFilters | None = None) -> QuerySet[Payment]:
    rows: QuerySet[Payment] = (
        Payment.objects.visible_to(user)
        .select_related(*LIST_RELATED)
        .order_by("-received_on", "-id")
    )
    return filters.apply(rows) if filters is not None else rows


def payment_get(*, user: User, payment_id: int) -> Payment | None:
    return (
        Payment.objects.visible_to(user).select_related(*LIST_RELATED).filter(pk=payment_id).first()
    )


def contract_get(*, user: User, contract_id: int) -> Contract | None:
    return (
        Contract.objects.visible_to(user)
        .select_related("opportunity")
        .filter(pk=contract_id)
        .first()
    )


def plan_list(*, contract: Contract) -> list[services.Installment]:
    """A contract's installments in due order with what is paid of each (two queries)."""
    plans = list(contract.plans.order_by("due_on", "sequence"))
    return services.installments(plans, services.received_total(contract))


def plan_get(*, user: User, plan_id: int) -> PaymentPlan | None:
    return (
        PaymentPlan.objects.filter(contract__in=Contract.objects.visible_to(user), pk=plan_id)
        .select_related("contract__opportunity")
        .first()
    )


def payment_masked(user: User, payment: Payment) -> bool:
    return bool(policy_of(Payment).masked_fields(user, payment))


# --- collected vs expected ----------------------------------------------------------------------


@dataclass
class CollectionRow:
    key: Any
    label: str
    expected: Decimal = ZERO
    collected: Decimal = ZERO

    @property
    def rate(self) -> float | None:
        return (
            round(100 * float(self.collected) / float(self.expected), 1) if self.expected else None
        )

    @property
    def gap(self) -> Decimal:
        return self.expected - self.collected


@dataclass
class Collections:
    """Collected vs expected over a period, in the viewer's full-access scope.

    ``expected``: installments of approved contracts due in the period; ``collected``: money
    received in the period; ``overdue``: what is still unpaid of installments due before today.
    """

    start: date
    end: date
    group: str
    rows: list[CollectionRow]
    expected: Decimal
    collected: Decimal
    overdue: Decimal
    overdue_count: int
    hidden: int  # contracts the viewer sees without their amounts (left out)

    @property
    def rate(self) -> float | None:
        return (
            round(100 * float(self.collected) / float(self.expected), 1) if self.expected else None
        )


GROUPS = ("month", "owner", "department", "none")


def _group_fields(group: str, prefix: str) -> tuple[str, ...]:
    if group == "owner":
        return (f"{prefix}opportunity__owner_id",)
    if group == "department":
        return (f"{prefix}opportunity__department_id",)
    return ()


def collections(
    *,
    user: User,
    start: date,
    end: date,
    group: str = "month",
    owner_id: int | None = None,
    department_path: str = "",
) -> Collections:
    """Collected vs expected by month, rep or department (a fixed number of queries: two per
    full-access part, one for the labels and one for the hidden count)."""
    if group not in GROUPS:
        group = "month"
    today = timezone.localdate()
    narrow = Q()
    if owner_id is not None:
        narrow &= Q(opportunity__owner_id=owner_id)
    if department_path:
        narrow &= Q(opportunity__department__path__startswith=department_path)
    rows: dict[Any, CollectionRow] = {}
    overdue = ZERO
    overdue_count = 0

    def row(key: Any) -> CollectionRow:
        if key not in rows:
            rows[key] = CollectionRow(key=key, label="")
        return rows[key]

    for part in Contract.objects.full_access_parts(user):
        contracts = part.filter(narrow, status=ContractStatus.APPROVED)
        plan_rows = PaymentPlan.objects.filter(contract__in=contracts.values("pk"))
        pay_rows = Payment.objects.filter(contract__in=contracts.values("pk"))
        for kind, rows_qs, day_field in (
            ("expected", plan_rows, "due_on"),
            ("collected", pay_rows, "received_on"),
        ):
            fields = _group_fields(group, "contract__")
            qs: Any = rows_qs.filter(**{f"{day_field}__gte": start, f"{day_field}__lte": end})
            if group == "month":
                qs = qs.annotate(month=TruncMonth(day_field))
                fields = ("month",)
            values = qs.order_by().values(*fields).annotate(total=Sum("amount"))
            for item in values:
                key = item[fields[0]] if fields else "all"
                if isinstance(key, datetime):
                    key = key.date()
                target = row(key)
                setattr(target, kind, getattr(target, kind) + (item["total"] or ZERO))
        # overdue: per contract, what the received total leaves unpaid of past installments
        due_plans = list(
            plan_rows.filter(due_on__lt=today).values_list("contract_id", "due_on", "amount")
        )
        if due_plans:
            received = dict(
                pay_rows.filter(contract_id__in={c for c, _d, _a in due_plans})
                .values("contract_id")
                .annotate(total=Sum("amount"))
                .values_list("contract_id", "total")
            )
            by_contract: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
            for contract_id, due_on, amount in due_plans:
                by_contract[contract_id].append((due_on, amount))
            for contract_id, items in by_contract.items():
                left = received.get(contract_id) or ZERO
                for _due, amount in sorted(items):
                    paid = min(left, amount)
                    left -= paid
                    if amount - paid > 0:
                        overdue += amount - paid
                        overdue_count += 1
    _label(rows, group)
    granted = Contract.objects.granted_part(user)
    hidden = (
        granted.filter(narrow, status=ContractStatus.APPROVED).count() if granted is not None else 0
    )
    if group == "month":
        ordered = sorted(rows.values(), key=lambda r: str(r.key))
    else:
        ordered = sorted(rows.values(), key=lambda r: (-r.expected, r.label))
    return Collections(
        start=start,
        end=end,
        group=group,
        rows=ordered,
        expected=sum((r.expected for r in rows.values()), ZERO),
        collected=sum((r.collected for r in rows.values()), ZERO),
        overdue=overdue,
        overdue_count=overdue_count,
        hidden=hidden,
    )


def _label(rows: dict[Any, CollectionRow], group: str) -> None:
    if group == "owner":
        names = {u.pk: str(u) for u in User.objects.filter(pk__in=[k for k in rows if k])}
        for key, item in rows.items():
            item.label = names.get(key, _("No owner"))
    elif group == "department":
        names = {d.pk: d.name for d in Department.objects.filter(pk__in=[k for k in rows if k])}
        for key, item in rows.items():
            item.label = names.get(key, _("No department"))
    elif group == "month":
        for key, item in rows.items():
            item.label = key.strftime("%Y-%m") if isinstance(key, date) else str(key)
    else:
        for item in rows.values():
            item.label = _("Everyone")
