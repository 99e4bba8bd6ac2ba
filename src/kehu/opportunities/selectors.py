"""Every read of the pipeline, scoped to the user first: lists, board, forecast, funnel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    ExpressionWrapper,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import TruncMonth, TruncQuarter
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pydantic import ValidationInfo, field_serializer, field_validator

from kehu.accounts.models import Department, User
from kehu.core import custom_fields
from kehu.core.access import get_visible_or_404, policy_of
from kehu.core.days import on_days
from kehu.core.errors import InvalidInput
from kehu.core.filters import CustomFieldFilters
from kehu.core.numbers import Id, whole_number
from kehu.opportunities.models import (
    ForecastCategory,
    LossReason,
    Opportunity,
    ProbabilitySource,
    Stage,
    StageChange,
    StageKind,
)
from kehu.opportunities.services import stalled_threshold

BOARD_COLUMN_LIMIT = 30  # cards per column; the rest are counted, linked to the list
WON_ON_BOARD_DAYS = 30
MONEY = DecimalField(max_digits=18, decimal_places=2)


# --- amounts the user may see ---------------------------------------------------------------


def full_access_q(user: Any) -> Q | None:
    """Rows whose amount ``user`` may see (None: all of them)."""
    return policy_of(Opportunity).full_access_filter(user)


def _amount_visible(user: Any) -> Any:
    scope = full_access_q(user)
    if scope is None:
        return Value(True, output_field=BooleanField())
    return ExpressionWrapper(scope, output_field=BooleanField())


# --- filters -----------------------------------------------------------------------------------


class OpportunityFilters(CustomFieldFilters):
    """One filter definition for the board, the list, the API and the forecast.

    The API answers a bad value 422 ``{"detail": "Check the filters.", "errors": {...}}``
    (``parse``); the pages show the same per-field messages beside the unfiltered list.
    """

    custom_kind = "opportunity"
    not_narrowing = frozenset({"columns"})

    q: str = ""
    customer: Id | None = None
    owner: Id | None = None
    department: int | None = None
    stage: str = ""
    status: str = ""
    close_month: date | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    stalled: bool = False

    @field_validator("q", "stage", mode="before")
    @classmethod
    def _trimmed(cls, value: Any, info: ValidationInfo) -> str:
        return _text(value)[: 100 if info.field_name == "q" else 40]

    @field_validator("customer", "owner", "department", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> int | None:
        text = _text(value)
        if not text:
            return None
        number = whole_number(text)
        if number is None:
            raise ValueError(_("Enter a whole number."))
        return number

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> str:
        status = _text(value)
        if status and status not in StageKind.values:
            raise ValueError(_("Use open, won or lost."))
        return status

    @field_validator("close_month", mode="before")
    @classmethod
    def _month(cls, value: Any) -> date | None:
        if isinstance(value, date):
            return value
        text = _text(value)
        if not text:
            return None
        try:
            return date.fromisoformat(text[:7] + "-01")
        except ValueError:
            raise ValueError(_("Enter the month as YYYY-MM.")) from None

    @field_validator("min_amount", "max_amount", mode="before")
    @classmethod
    def _money(cls, value: Any) -> Decimal | None:
        text = _text(value).replace(",", "")
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("Enter the amount as a number.")) from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(_("Enter an amount of zero or more."))
        return amount

    @field_validator("stalled", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> bool:
        return value is True or _text(value).lower() in {"1", "true", "on", "yes"}

    @field_serializer("close_month")
    def _month_in_links(self, month: date | None) -> str:
        return month.strftime("%Y-%m") if month else ""

    def apply(self, queryset: QuerySet[Opportunity], user: Any) -> QuerySet[Opportunity]:
        queryset = self.apply_custom(queryset, user)
        if self.q:
            match = Q(name__icontains=self.q) | Q(customer__name__icontains=self.q)
            custom = custom_fields.search_q(self.custom_kind, user, self.q)
            queryset = queryset.filter(match if custom is None else match | custom)
        if self.customer:
            queryset = queryset.filter(customer_id=self.customer)
        if self.owner:
            queryset = queryset.filter(owner_id=self.owner)
        if self.department:
            path = (
                Department.objects.filter(pk=self.department).values_list("path", flat=True).first()
            )
            queryset = (
                queryset.filter(department__path__startswith=path) if path else queryset.none()
            )
        if self.stage:
            queryset = queryset.filter(stage__code=self.stage)
        if self.status:
            queryset = queryset.filter(stage__kind=self.status)
        if self.close_month:
            start = self.close_month
            end = (start + timedelta(days=32)).replace(day=1)
            queryset = queryset.filter(expected_close__gte=start, expected_close__lt=end)
        if self.min_amount is not None or self.max_amount is not None:
            # Amounts a user may not see are not filterable either: that would leak them.
            scope = full_access_q(user)
            if scope is not None:
                queryset = queryset.filter(scope)
            if self.min_amount is not None:
                queryset = queryset.filter(amount__gte=self.min_amount)
            if self.max_amount is not None:
                queryset = queryset.filter(amount__lte=self.max_amount)
        if self.stalled:
            queryset = queryset.filter(stalled_q())
        return queryset


def _text(value: Any) -> str:
    """A query value as the filters read it: stripped, None as empty."""
    return str(value if value is not None else "").strip()


# --- lists -------------------------------------------------------------------------------------


def opportunity_list(
    *, user: Any, filters: OpportunityFilters | None = None
) -> QuerySet[Opportunity]:
    queryset: QuerySet[Opportunity] = (
        Opportunity.objects.visible_to(user)
        .select_related("customer", "owner", "department", "stage", "loss_reason")
        .annotate(
            amount_visible=_amount_visible(user),
            is_stalled=ExpressionWrapper(stalled_q(), output_field=BooleanField()),
        )
    )
    if filters is not None:
        queryset = filters.apply(queryset, user)
    return queryset


def stalled_q(open_stage_ids: list[int] | None = None) -> Q:
    """Open deals without a stage change for longer than the threshold; with the open stages'
    keys when the caller has them (``ListStages.open_ids``), so that no join is needed."""
    in_open_stage = (
        Q(stage__kind=StageKind.OPEN) if open_stage_ids is None else Q(stage_id__in=open_stage_ids)
    )
    return in_open_stage & Q(stage_entered_at__lt=stalled_threshold())


@dataclass(frozen=True)
class ListStages:
    """The stages and loss reasons of a page of deals, read once and attached to each row
    instead of joined (``opportunity_rows``)."""

    stages: dict[int, Stage]
    reasons: dict[int, LossReason]

    @classmethod
    def read(cls) -> ListStages:
        stages = {stage.pk: stage for stage in stage_list(include_inactive=True)}
        return cls(stages=stages, reasons={r.pk: r for r in LossReason.objects.all()})

    @property
    def open_ids(self) -> list[int]:
        return [pk for pk, stage in self.stages.items() if stage.kind == StageKind.OPEN]

    def attach(self, deal: Opportunity) -> Opportunity:
        deal.stage = self.stages[deal.stage_id]
        reason = deal.loss_reason_id
        deal.loss_reason = self.reasons[reason] if reason is not None else None
        return deal


# What a row of the deal lists and a board card read: the deal, and the names of its customer
# and owner. With opportunity_list's joins (the stage twice, the department, the loss reason,
# the customer's 45 columns) a page of 50 took 12–14 ms to read and map at size L, 7.5 ms
# without them, and PostgreSQL spent 3–5 ms planning each board column's query.
ROW_FIELDS = (
    *(field.name for field in Opportunity._meta.concrete_fields),
    "customer__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
    "owner__display_name",
)


def opportunity_rows(
    *, user: Any, open_stage_ids: list[int], filters: OpportunityFilters | None = None
) -> QuerySet[Opportunity]:
    """``opportunity_list`` for the lists and the board's cards, without its joins; a list
    attaches each row's stage and loss reason (``ListStages.attach``) once the page is read."""
    queryset: QuerySet[Opportunity] = (
        Opportunity.objects.visible_to(user)
        .select_related("customer", "owner")
        .only(*ROW_FIELDS)
        .annotate(
            amount_visible=_amount_visible(user),
            is_stalled=ExpressionWrapper(stalled_q(open_stage_ids), output_field=BooleanField()),
        )
    )
    if filters is not None:
        queryset = filters.apply(queryset, user)
    return queryset


def opportunity_get(*, user: Any, opportunity_id: int) -> Opportunity:
    return get_visible_or_404(opportunity_list(user=user), user, pk=opportunity_id)


def opportunity_editable(*, user: Any, opportunity_id: int) -> bool:
    return Opportunity.objects.editable_by(user).filter(pk=opportunity_id).exists()


def stage_list(*, include_inactive: bool = False) -> list[Stage]:
    stages = Stage.objects.all()
    if not include_inactive:
        stages = stages.filter(is_active=True)
    return list(stages)


def loss_reasons() -> list[LossReason]:
    return list(LossReason.objects.filter(is_active=True))


def stage_history(*, opportunity: Opportunity) -> list[StageChange]:
    return list(
        opportunity.stage_changes.select_related("stage", "entered_by", "exited_by").order_by(
            "-entered_at", "-id"
        )
    )


def probability_basis(stage: Stage) -> str:
    if stage.kind != StageKind.OPEN:
        return _("closed deal")
    months = stage.probability_window_months
    if stage.probability_source == ProbabilitySource.HISTORY:
        return ngettext(
            "based on %(count)s deal in the last %(months)s months",
            "based on %(count)s deals in the last %(months)s months",
            stage.probability_sample,
        ) % {"count": stage.probability_sample, "months": months}
    return ngettext(
        "default of the stage (only %(count)s closed deal in the last %(months)s months)",
        "default of the stage (only %(count)s closed deals in the last %(months)s months)",
        stage.probability_sample,
    ) % {"count": stage.probability_sample, "months": months}


# --- board -------------------------------------------------------------------------------------


@dataclass
class BoardColumn:
    stage: Stage
    cards: list[Opportunity] = field(default_factory=list)
    count: int = 0
    more: int = 0  # deals in the column beyond its cards
    list_query: str = ""  # the list's query string for this column (set by the view)
    amount: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)


def opportunity_board(*, user: Any, filters: OpportunityFilters) -> list[BoardColumn]:
    """Open and won stages with their totals and oldest cards: a query per column and up to
    four.

    The totals are summed per part of the view: a manager's 221,893 deals at size L, ORed
    with their own, were read from the table (125 of the board's 196 ms); apart, the
    department and owner indexes carry what the totals read. The parts the user fully sees
    sum the amounts and the rest only counts, so no row is tested for full access, and the
    stages are matched by key: the index alone answers, without a join to the stages.
    """
    stages = [stage for stage in stage_list() if stage.kind != StageKind.LOST]
    columns = {stage.pk: BoardColumn(stage=stage) for stage in stages}
    won_since = timezone.now() - timedelta(days=WON_ON_BOARD_DAYS)
    by_kind = {kind: [s.pk for s in stages if s.kind == kind] for kind in StageKind.values}
    on_board = Q(stage_id__in=by_kind[StageKind.OPEN]) | Q(
        stage_id__in=by_kind[StageKind.WON], closed_at__gte=won_since
    )
    filtered = filters.apply(Opportunity.objects.filter(on_board), user)  # ANDed to each part
    for stage_id, count, amount in _view_totals(user, filtered, ("stage_id",)):
        columns[stage_id].count += count
        columns[stage_id].amount += amount
    for card in _board_cards(user, filtered, stages, won_since):
        columns[card.stage_id].cards.append(card)
    for column in columns.values():
        column.weighted = column.stage.weighted(column.amount)
        column.more = max(column.count - len(column.cards), 0)
    return list(columns.values())


def _view_totals(
    user: Any, deals: QuerySet[Opportunity], by: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """``_totals`` of the ``deals`` in ``user``'s view, part by part: the amounts summed where
    the user fully sees them, the deals seen without full access (shares) only counted."""
    rows: list[tuple[Any, ...]] = []
    for part in Opportunity.objects.full_access_parts(user):
        rows += _totals(part & deals, by, amounts=True)
    granted = Opportunity.objects.granted_part(user)
    if granted is not None:
        rows += _totals(granted & deals, by, amounts=False)
    return rows


def _totals(
    deals: QuerySet[Opportunity], by: tuple[str, ...], *, amounts: bool
) -> list[tuple[Any, ...]]:
    """(the ``by`` columns…, deals, their summed amount or 0) per group of ``deals``."""
    totals = deals.order_by().values(*by).annotate(n=Count("pk"))
    if not amounts:
        return [(*row, Decimal(0)) for row in totals.values_list(*by, "n")]
    summed = totals.annotate(total=Sum("amount")).values_list(*by, "n", "total")
    return [(*row[:-1], row[-1] or Decimal(0)) for row in summed]


def _board_cards(
    user: Any, filtered: QuerySet[Opportunity], stages: list[Stage], won_since: datetime
) -> list[Opportunity]:
    """The oldest cards of each column: one query per stage, each an index range scan of
    ``(stage, stage_entered_at)`` that stops at the cap (one sort of every deal on the board
    took 0.8 s at 500,000 deals)."""
    open_ids = [stage.pk for stage in stages if stage.kind == StageKind.OPEN]
    base = opportunity_rows(user=user, open_stage_ids=open_ids) & filtered
    cards: list[Opportunity] = []
    for stage in stages:
        part = base.filter(stage_id=stage.pk)
        if stage.kind == StageKind.WON:
            # Implied by closed_at >= won_since (a won deal's stay began when it closed or
            # later); it lets the index start at the window instead of the oldest won deal.
            part = part.filter(stage_entered_at__gte=won_since)
        cards.extend(part.order_by("stage_entered_at", "id")[:BOARD_COLUMN_LIMIT])
    return cards


def stalled_list(*, user: Any, stages: ListStages | None = None) -> QuerySet[Opportunity]:
    """Open deals without a stage change for longer than the threshold, the longest first,
    read as the lists read them (``opportunity_rows``; ``stages.attach`` adds the stage)."""
    stages = stages or ListStages.read()
    return (
        opportunity_rows(user=user, open_stage_ids=stages.open_ids)
        .filter(stalled_q(stages.open_ids))
        .order_by("stage_entered_at", "id")
    )


# --- forecast ----------------------------------------------------------------------------------


@dataclass
class ForecastRow:
    period: str
    group_id: int | None
    group: str
    count: int = 0
    pipeline: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)
    best_case: Decimal = Decimal(0)
    committed: Decimal = Decimal(0)
    won: Decimal = Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "group_id": self.group_id,
            "group": self.group,
            "count": self.count,
            "pipeline": float(self.pipeline),
            "weighted": float(self.weighted),
            "best_case": float(self.best_case),
            "committed": float(self.committed),
            "won": float(self.won),
        }


@dataclass
class Forecast:
    period: str
    group: str
    start: date
    end: date
    rows: list[ForecastRow]
    hidden: int  # deals left out because their amount is masked for the user

    @property
    def periods(self) -> list[str]:
        return sorted({row.period for row in self.rows})

    def totals_by_period(self) -> list[ForecastRow]:
        merged: dict[str, ForecastRow] = {}
        for row in self.rows:
            total = merged.setdefault(row.period, ForecastRow(row.period, None, ""))
            total.count += row.count
            total.pipeline += row.pipeline
            total.weighted += row.weighted
            total.best_case += row.best_case
            total.committed += row.committed
            total.won += row.won
        return [merged[key] for key in sorted(merged)]


def _period_label(value: date | datetime | None, period: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if period == "quarter":
        return f"{value.year}-Q{(value.month - 1) // 3 + 1}"
    return f"{value.year}-{value.month:02d}"


def default_forecast_range(today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    start = today.replace(day=1)
    end_month = start
    for _month in range(5):
        end_month = (end_month + timedelta(days=32)).replace(day=1)
    end = (end_month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start, end


def forecast(
    *,
    user: Any,
    period: str = "month",
    group: str = "owner",
    start: date | None = None,
    end: date | None = None,
    filters: OpportunityFilters | None = None,
) -> Forecast:
    """Pipeline, weighted, best case, committed and won per period and owner/team.

    Open deals count in the month/quarter of their expected close; won deals in the one they
    closed. Committed = won + open deals in "commit" stages; best case = committed + open deals
    in "best case" stages. Deals whose amount the user may not see are left out (and counted).
    """
    if period not in {"month", "quarter"}:
        raise InvalidInput(errors={"period": [_("Use month or quarter.")]})
    if group not in {"owner", "department", "none"}:
        raise InvalidInput(errors={"group": [_("Use owner, department or none.")]})
    default_start, default_end = default_forecast_range()
    start = start or default_start
    end = end or default_end
    if end < start:
        raise InvalidInput(errors={"end": [_("The end is before the start.")]})
    if (end - start).days > 3 * 366:
        raise InvalidInput(errors={"end": [_("Choose a range of at most three years.")]})
    trunc = TruncQuarter if period == "quarter" else TruncMonth
    key = {"owner": "owner_id", "department": "department_id", "none": None}[group]
    tz = timezone.get_current_timezone()
    closed_in_range = on_days("closed_at", start, end)

    filtered: QuerySet[Opportunity] = Opportunity.objects.all()
    if filters is not None:
        filtered = filters.apply(filtered, user)  # ANDed to the view and its parts
    # Only the deals seen without full access (shares) can hide their amount.
    granted = Opportunity.objects.granted_part(user)
    hidden = 0 if granted is None else (granted & filtered).filter(amount__isnull=False).count()
    fields = ["bucket"] + ([key] if key else [])
    rows: dict[tuple[str, int | None], ForecastRow] = {}
    # Stages by key, their kind, probability and category applied here: the index alone
    # answers the sums, without a join to the stages (see opportunity_board).
    stages = {stage.pk: stage for stage in stage_list(include_inactive=True)}
    open_ids = [pk for pk, stage in stages.items() if stage.kind == StageKind.OPEN]
    won_ids = [pk for pk, stage in stages.items() if stage.kind == StageKind.WON]

    def row_for(data: dict[str, Any]) -> ForecastRow:
        label = _period_label(data["bucket"], period)
        group_id = data[key] if key else None
        return rows.setdefault((label, group_id), ForecastRow(label, group_id, ""))

    # Summed per part of the fully seen deals, each answered from the owner or department
    # index alone (see opportunity_board).
    for part in Opportunity.objects.full_access_parts(user):
        scoped = (part & filtered).order_by()
        open_rows = (
            scoped.filter(stage_id__in=open_ids, expected_close__gte=start, expected_close__lte=end)
            .annotate(bucket=trunc("expected_close"))
            .values(*fields, "stage_id")
            .annotate(n=Count("pk"), pipeline=Sum("amount", output_field=MONEY))
        )
        won_rows = (
            scoped.filter(closed_in_range, stage_id__in=won_ids)
            .annotate(bucket=trunc("closed_at", tzinfo=tz))
            .values(*fields)
            .annotate(n=Count("pk"), won=Sum("amount", output_field=MONEY))
        )
        for data in open_rows:
            row, stage = row_for(data), stages[data["stage_id"]]
            amount = data["pipeline"] or Decimal(0)
            row.count += data["n"]
            row.pipeline += amount
            row.weighted += stage.weighted(amount)
            if stage.forecast_category == ForecastCategory.COMMIT:
                row.committed += amount
            elif stage.forecast_category == ForecastCategory.BEST_CASE:
                row.best_case += amount
        for data in won_rows:
            row = row_for(data)
            row.count += data["n"]
            row.won += data["won"] or 0
    for row in rows.values():
        row.weighted = row.weighted.quantize(Decimal("0.01"))
        row.committed += row.won
        row.best_case += row.committed
    ids = {row.group_id for row in rows.values() if row.group_id is not None}
    names: dict[int, str] = {}
    if key == "owner_id":
        names = {user.pk: str(user) for user in User.objects.filter(pk__in=ids)}
    elif key == "department_id":
        names = dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))
    for row in rows.values():
        if key is None:
            row.group = _("Everyone")
        elif row.group_id is None:
            row.group = _("No department")
        else:
            row.group = names.get(row.group_id, str(row.group_id))
    ordered = sorted(rows.values(), key=lambda row: (row.period, row.group))
    return Forecast(period=period, group=group, start=start, end=end, rows=ordered, hidden=hidden)


# --- funnel ------------------------------------------------------------------------------------


@dataclass
class FunnelStep:
    stage: Stage
    count: int = 0
    amount: Decimal = Decimal(0)
    conversion: float | None = None  # share of the previous step that reached this one

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.code,
            "name": self.stage.label,
            "count": self.count,
            "amount": float(self.amount),
            "conversion": self.conversion,
        }


def funnel(*, user: Any, start: date, end: date) -> list[FunnelStep]:
    """Deals created in the period: how many reached each stage and how many moved on.

    Summed per part of the view like the board's totals (``opportunity_board``): the owner
    and department indexes carry the creation time and the furthest stage, so each part is
    answered from its index alone, with the stages matched by key.
    """
    if end < start:
        raise InvalidInput(errors={"end": [_("The end is before the start.")]})
    created = Opportunity.objects.filter(on_days("created_at", start, end))
    # Deals grouped by the furthest stage they reached and where they are now: a handful of
    # rows whatever the size, summed up the steps below. Amounts only where fully seen.
    reached = _view_totals(user, created, ("furthest_stage_order", "stage_id"))
    every_stage = stage_list(include_inactive=True)  # a deal may stay in a retired stage
    kind_of = {stage.pk: stage.kind for stage in every_stage}
    steps = [
        FunnelStep(stage=stage)
        for stage in every_stage
        if stage.is_active and stage.kind != StageKind.LOST
    ]
    won_orders = [step.stage.order for step in steps if step.stage.kind == StageKind.WON]
    first_won = min(won_orders) if won_orders else None
    for top, stage_id, count, amount in reached:
        top = -1 if top is None else top
        if kind_of.get(stage_id) == StageKind.WON and first_won is not None:
            top = max(top, first_won)
        for step in steps:
            if step.stage.order <= top:
                step.count += count
                step.amount += amount
    previous: int | None = None
    for step in steps:
        if previous is not None:
            step.conversion = round(step.count / previous, 4) if previous else None
        previous = step.count
    return steps


@dataclass
class MonthTotal:
    """Won deals closed in one month: ``month`` is ``2026-12``."""

    month: str
    count: int = 0
    amount: Decimal = Decimal(0)


def won_per_month(*, user: User, months: int = 12, today: date | None = None) -> list[MonthTotal]:
    """The won deals the user sees with their amounts, per month of closing, the last
    ``months`` months up to this one (empty months included): one query per part of
    ``full_access_parts`` (one for a rep, one per managed department and the own deals)."""
    today = today or timezone.localdate()
    first = date(today.year, today.month, 1)
    for _step in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    totals: dict[str, MonthTotal] = {}
    cursor = first
    while cursor <= today:
        label = _period_label(cursor, "month")
        totals[label] = MonthTotal(label)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    won_ids = [
        stage.pk for stage in stage_list(include_inactive=True) if stage.kind == StageKind.WON
    ]
    tz = timezone.get_current_timezone()
    for part in Opportunity.objects.full_access_parts(user):
        rows = (
            part.filter(on_days("closed_at", first, today), stage_id__in=won_ids)
            .order_by()
            .annotate(bucket=TruncMonth("closed_at", tzinfo=tz))
            .values("bucket")
            .annotate(n=Count("pk"), won=Sum("amount", output_field=MONEY))
        )
        for data in rows:
            total = totals.get(_period_label(data["bucket"], "month"))
            if total is not None:
                total.count += data["n"]
                total.amount += data["won"] or Decimal(0)
    return list(totals.values())
