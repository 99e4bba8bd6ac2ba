"""The churn-risk and value scores of customers (流失预警/高价值客户), and the actions on them.

A score is transparent: each factor adds at most its weight (settings below, editable by an
administrator) and leaves a reason code with its figures (``{"code": "no_activity", "days":
93}``), rendered in the viewer's language (``selectors.scores.reason_text``). Nothing is
guessed: every factor is read from the records of the other apps.

Churn risk (0-100): days since the last activity; the follow-up sentiment trend (the last two
negative, or the last worse than the earlier ones); the latest renewal intent (unlikely /
undecided); a need that changed recently (the customer's initial need or a deal's needs, from
their history); open complaints (service tickets of type complaint, not resolved or closed);
the satisfaction survey average when there are answers. Value (0-100): the amount won in the
last 12 months against the strategic-customer line (战略客户 > 50万/年), the orders in the
last 12 months, the average order value.

``recompute(ids)`` scores any set of customers in batches with a fixed number of queries per
batch (bulk reads, one bulk upsert); ``recompute_all`` walks every customer by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.analytics.models import CustomerScore
from kehu.core import config
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.customers.models import Customer
from kehu.followups.models import FollowUp, RenewalIntent, Sentiment, Task, TaskKind
from kehu.opportunities.models import Opportunity, StageKind
from kehu.service.models import OPEN_TICKET_STATUSES, Survey, Ticket, TicketType

# --- the settings ------------------------------------------------------------------------------

CHURN_WEIGHTS = config.define(
    "analytics.churn_weights",
    {
        "inactivity": 30,
        "sentiment": 20,
        "renewal": 25,
        "need_change": 10,
        "complaints": 15,
        "satisfaction": 10,
    },
    _("Churn risk: points per factor (inactivity, sentiment, renewal, need_change, …)"),
    unit=config.POINTS,
    minimum=0,
    maximum=100,
    help=_("Points each churn-risk factor adds at most; the score is their sum, 0-100."),
)
CHURN_THRESHOLD = config.define(
    "analytics.churn_threshold",
    50,
    _("Churn risk: a score from which a customer is at risk"),
    unit=config.POINTS,
    minimum=1,
    maximum=100,
    help=_(
        "Customers whose churn-risk score reaches this are listed as at risk (retention plan: "
        "senior revisit, revised offer)."
    ),
)
INACTIVE_DAYS = config.define(
    "analytics.inactive_days",
    90,
    _("Churn risk: days without activity for the full points"),
    unit=config.DAYS,
    minimum=1,
    maximum=730,
    help=_("No follow-up, deal or ticket for this long gives the full inactivity points."),
)
QUIET_DAYS = config.define(
    "analytics.quiet_days",
    30,
    _("Churn risk: days without activity for half the points"),
    unit=config.DAYS,
    minimum=1,
    maximum=730,
    help=_(
        "No activity for this long gives half the inactivity points; keep it below the inactive "
        "days."
    ),
)
NEED_CHANGE_DAYS = config.define(
    "analytics.need_change_days",
    90,
    _("Churn risk: a need changed within these days"),
    unit=config.DAYS,
    minimum=1,
    maximum=730,
    help=_("A need changed within this time counts as a churn signal."),
)
LOW_SATISFACTION = config.define(
    "analytics.low_satisfaction",
    3.0,
    _("Churn risk: a survey average below this (1-5)"),
    unit=config.POINTS,
    minimum=1,
    maximum=5,
    help=_("A satisfaction survey average below this (scale 1-5) adds the satisfaction points."),
)
VALUE_WEIGHTS = config.define(
    "analytics.value_weights",
    {"amount": 50, "frequency": 25, "average_order": 25},
    _("Value: points per factor (amount, frequency, average_order)"),
    unit=config.POINTS,
    minimum=0,
    maximum=100,
    help=_("Points each value factor gives at most; the value score is their sum, 0-100."),
)
STRATEGIC_AMOUNT = config.define(
    "analytics.strategic_amount",
    500000,
    _("Value: amount won in 12 months of a strategic customer (战略客户, yuan)"),
    unit=config.YUAN,
    minimum=0,
    maximum=10_000_000_000,
    help=_(
        "Won in 12 months for the full amount points (handbook: strategic customers above 50万 a "
        "year)."
    ),
)
FREQUENT_ORDERS = config.define(
    "analytics.frequent_orders",
    4,
    _("Value: orders in 12 months for the full frequency points"),
    unit=config.ORDERS,
    minimum=1,
    maximum=1000,
    help=_("Orders won in 12 months for the full frequency points."),
)
LARGE_ORDER = config.define(
    "analytics.large_order",
    200000,
    _("Value: average order value for the full points (yuan)"),
    unit=config.YUAN,
    minimum=0,
    maximum=10_000_000_000,
    help=_("Average order value for the full average-order points."),
)
HIGH_VALUE_THRESHOLD = config.define(
    "analytics.high_value_threshold",
    60,
    _("Value: a score from which a customer is high-value"),
    unit=config.POINTS,
    minimum=1,
    maximum=100,
    help=_(
        "Customers whose value score reaches this are listed as high-value (one-to-one plan, "
        "dedicated customer success manager)."
    ),
)
BATCH_SIZE = config.define(
    "analytics.score_batch_size",
    1000,
    _("Scores: customers per batch of the recompute job"),
    unit=config.CUSTOMERS,
    minimum=100,
    maximum=100000,
    help=_(
        "The nightly score job recomputes this many customers per transaction; smaller batches "
        "hold locks for less time."
    ),
)

SENTIMENT_POINTS = {Sentiment.POSITIVE: 1, Sentiment.NEUTRAL: 0, Sentiment.NEGATIVE: -1}
LOOKBACK_DAYS = 365  # follow-ups, deals and surveys older than a year do not count


@dataclass(frozen=True)
class Rules:
    """The settings, read once per run."""

    churn_weights: dict[str, int]
    churn_threshold: int
    inactive_days: int
    quiet_days: int
    need_change_days: int
    low_satisfaction: float
    value_weights: dict[str, int]
    strategic_amount: Decimal
    frequent_orders: int
    large_order: Decimal
    high_value_threshold: int

    @classmethod
    def current(cls) -> Rules:
        churn = {**CHURN_WEIGHTS.default, **dict(config.get(CHURN_WEIGHTS.key))}
        value = {**VALUE_WEIGHTS.default, **dict(config.get(VALUE_WEIGHTS.key))}
        return cls(
            churn_weights={k: int(v) for k, v in churn.items()},
            churn_threshold=int(config.get(CHURN_THRESHOLD.key)),
            inactive_days=int(config.get(INACTIVE_DAYS.key)),
            quiet_days=int(config.get(QUIET_DAYS.key)),
            need_change_days=int(config.get(NEED_CHANGE_DAYS.key)),
            low_satisfaction=float(config.get(LOW_SATISFACTION.key)),
            value_weights={k: int(v) for k, v in value.items()},
            strategic_amount=Decimal(str(config.get(STRATEGIC_AMOUNT.key))),
            frequent_orders=max(1, int(config.get(FREQUENT_ORDERS.key))),
            large_order=Decimal(str(config.get(LARGE_ORDER.key))),
            high_value_threshold=int(config.get(HIGH_VALUE_THRESHOLD.key)),
        )


# --- the facts of a batch ----------------------------------------------------------------------


@dataclass
class Facts:
    """What the records say about one customer."""

    created_at: datetime
    last_contact_at: datetime | None = None
    owner_id: int | None = None
    department_id: int | None = None
    sentiments: list[str] = field(default_factory=list)  # newest first
    renewal_intent: str = ""  # the latest one given
    last_followup_at: datetime | None = None
    need_changed: bool = False
    open_complaints: int = 0
    satisfaction: float | None = None
    won_year: Decimal = Decimal(0)
    orders_year: int = 0
    orders_total: int = 0
    average_order: Decimal = Decimal(0)


def _facts(ids: list[int], now: datetime, rules: Rules) -> dict[int, Facts]:
    """The facts of the customers ``ids`` in seven queries, whatever their number."""
    year_ago = now - timedelta(days=LOOKBACK_DAYS)
    need_since = now - timedelta(days=rules.need_change_days)
    facts = {
        row["id"]: Facts(
            created_at=row["created_at"],
            last_contact_at=row["last_contact_at"],
            owner_id=row["owner_id"],
            department_id=row["department_id"],
        )
        for row in Customer.objects.filter(pk__in=ids).values(
            "id", "created_at", "last_contact_at", "owner_id", "department_id"
        )
    }
    followups = (
        FollowUp.objects.filter(customer_id__in=ids, occurred_at__gte=year_ago)
        .order_by("customer_id", "-occurred_at", "-id")
        .values_list("customer_id", "occurred_at", "sentiment", "renewal_intent")
    )
    for customer_id, occurred_at, sentiment, intent in followups:
        fact = facts.get(customer_id)
        if fact is None:
            continue
        if fact.last_followup_at is None:
            fact.last_followup_at = occurred_at
        fact.sentiments.append(sentiment)
        if intent and not fact.renewal_intent:
            fact.renewal_intent = intent
    won = (
        Opportunity.objects.filter(customer_id__in=ids, stage__kind=StageKind.WON)
        .order_by()
        .values("customer_id")
        .annotate(
            total=Count("id"),
            year=Count("id", filter=Q(closed_at__gte=year_ago)),
            won_sum=Sum("amount", filter=Q(closed_at__gte=year_ago)),
            average_amount=Avg("amount"),
        )
    )
    for row in won:
        fact = facts[row["customer_id"]]
        fact.orders_total = row["total"]
        fact.orders_year = row["year"]
        fact.won_year = row["won_sum"] or Decimal(0)
        fact.average_order = Decimal(row["average_amount"] or 0).quantize(Decimal("0.01"))
    complaints = (
        Ticket.objects.filter(
            customer_id__in=ids,
            ticket_type=TicketType.COMPLAINT,
            status__in=OPEN_TICKET_STATUSES,
        )
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
    )
    for complaint in complaints:
        facts[complaint["customer_id"]].open_complaints = complaint["n"]
    surveys = (
        Survey.objects.filter(customer_id__in=ids, answered_at__gte=year_ago, score__isnull=False)
        .order_by()
        .values("customer_id")
        .annotate(average=Avg("score"))
    )
    for answered in surveys:
        facts[answered["customer_id"]].satisfaction = float(answered["average"])
    for customer_id in _needs_changed(ids, need_since):
        facts[customer_id].need_changed = True
    return facts


def _changed_ids(history: Any, key: str, text: str, ids: list[int], since: datetime) -> set[int]:
    """The ids whose ``text`` column took a value within the window it had not had before
    (``history``: a simple_history model; ``key``: the column naming the customer)."""
    rows = (
        history.objects.filter(**{f"{key}__in": ids})
        .order_by()
        .values(key)
        .annotate(
            every=Count(text, distinct=True),
            before=Count(text, distinct=True, filter=Q(history_date__lt=since)),
            recent=Count("history_id", filter=Q(history_date__gte=since)),
        )
        .filter(recent__gt=0, every__gt=1)
    )
    return {
        row[key]
        for row in rows
        if row["every"] > row["before"] or (row["before"] == 0 and row["every"] > 1)
    }


def _needs_changed(ids: list[int], since: datetime) -> set[int]:
    changed = _changed_ids(Customer.history.model, "id", "initial_need", ids, since)
    changed |= _changed_ids(Opportunity.history.model, "customer_id", "needs", ids, since)
    return changed


# --- the scores --------------------------------------------------------------------------------


@dataclass
class Scored:
    churn: int
    churn_reasons: list[dict[str, Any]]
    value: int
    value_reasons: list[dict[str, Any]]
    last_activity_at: datetime | None


def _sentiment_reason(sentiments: list[str]) -> dict[str, Any] | None:
    if len(sentiments) >= 2 and sentiments[0] == sentiments[1] == Sentiment.NEGATIVE:
        return {"code": "negative_feedback", "count": 2}
    if len(sentiments) >= 2:
        latest = SENTIMENT_POINTS[Sentiment(sentiments[0])]
        earlier = [SENTIMENT_POINTS[Sentiment(s)] for s in sentiments[1:]]
        if latest < sum(earlier) / len(earlier) - 0.5:
            return {"code": "sentiment_declining"}
    return None


def score(fact: Facts, rules: Rules, now: datetime) -> Scored:
    """The two scores of one customer and their reasons (pure: the rules and the facts)."""
    w = rules.churn_weights
    churn = 0
    reasons: list[dict[str, Any]] = []
    moments = [m for m in (fact.last_contact_at, fact.last_followup_at) if m is not None]
    last = max(moments) if moments else None
    days = (now - (last or fact.created_at)).days
    if days >= rules.inactive_days:
        churn += w["inactivity"]
        reasons.append({"code": "no_activity" if last else "never_contacted", "days": days})
    elif days >= rules.quiet_days:
        churn += w["inactivity"] // 2
        reasons.append({"code": "quiet", "days": days})
    sentiment = _sentiment_reason(fact.sentiments)
    if sentiment is not None:
        churn += w["sentiment"] if sentiment["code"] == "negative_feedback" else w["sentiment"] // 2
        reasons.append(sentiment)
    if fact.renewal_intent == RenewalIntent.UNLIKELY:
        churn += w["renewal"]
        reasons.append({"code": "renewal_unlikely"})
    elif fact.renewal_intent == RenewalIntent.UNDECIDED:
        churn += w["renewal"] // 2
        reasons.append({"code": "renewal_undecided"})
    if fact.need_changed:
        churn += w["need_change"]
        reasons.append({"code": "need_changed", "days": rules.need_change_days})
    if fact.open_complaints:
        churn += w["complaints"]
        reasons.append({"code": "open_complaints", "count": fact.open_complaints})
    if fact.satisfaction is not None and fact.satisfaction < rules.low_satisfaction:
        churn += w["satisfaction"]
        reasons.append({"code": "low_satisfaction", "average": round(fact.satisfaction, 1)})

    v = rules.value_weights
    value = 0.0
    value_reasons: list[dict[str, Any]] = []
    if fact.won_year > 0:
        value += v["amount"] * min(
            1.0, float(fact.won_year / max(rules.strategic_amount, Decimal(1)))
        )
        code = "strategic" if fact.won_year >= rules.strategic_amount else "won_amount"
        value_reasons.append({"code": code, "amount": str(fact.won_year.quantize(Decimal(1)))})
    if fact.orders_year:
        value += v["frequency"] * min(1.0, fact.orders_year / rules.frequent_orders)
        value_reasons.append({"code": "orders", "count": fact.orders_year})
    if fact.average_order > 0:
        value += v["average_order"] * min(
            1.0, float(fact.average_order / max(rules.large_order, Decimal(1)))
        )
        if fact.average_order >= rules.large_order:
            value_reasons.append(
                {"code": "large_orders", "amount": str(fact.average_order.quantize(Decimal(1)))}
            )
    return Scored(min(100, churn), reasons, min(100, round(value)), value_reasons, last)


def _batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


UPDATED_FIELDS = [
    "churn_score",
    "churn_reasons",
    "is_churn_risk",
    "value_score",
    "value_reasons",
    "is_high_value",
    "won_amount_year",
    "orders_year",
    "orders_total",
    "average_order",
    "last_activity_at",
    "computed_at",
    "owner",
    "department",
]


def _write_batch(ids: list[int], rules: Rules, now: datetime) -> int:
    facts = _facts(ids, now, rules)
    rows = []
    for customer_id, fact in facts.items():
        scored = score(fact, rules, now)
        rows.append(
            CustomerScore(
                customer_id=customer_id,
                churn_score=scored.churn,
                churn_reasons=scored.churn_reasons,
                is_churn_risk=scored.churn >= rules.churn_threshold,
                value_score=scored.value,
                value_reasons=scored.value_reasons,
                is_high_value=scored.value >= rules.high_value_threshold,
                won_amount_year=fact.won_year,
                orders_year=fact.orders_year,
                orders_total=fact.orders_total,
                average_order=fact.average_order,
                last_activity_at=scored.last_activity_at,
                computed_at=now,
                owner_id=fact.owner_id,
                department_id=fact.department_id,
            )
        )
    # one upsert: new customers get a row, scored ones are updated; plan_owner is kept
    CustomerScore.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["customer"], update_fields=UPDATED_FIELDS
    )
    return len(rows)


def recompute(ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Score the customers ``ids`` (incremental path); returns how many were scored."""
    now = now or timezone.now()
    rules = Rules.current()
    size = int(config.get(BATCH_SIZE.key))
    done = 0
    for batch in _batches(sorted(set(ids)), size):
        with transaction.atomic():
            done += _write_batch(batch, rules, now)
    return done


def recompute_all(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Score every customer, a batch at a time in id order (the job)."""
    now = now or timezone.now()
    rules = Rules.current()
    size = batch_size or int(config.get(BATCH_SIZE.key))
    last = 0
    done = 0
    while True:
        batch = list(
            Customer.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size]
        )
        if not batch:
            return done
        with transaction.atomic():
            done += _write_batch(batch, rules, now)
        last = batch[-1]


# --- the actions -------------------------------------------------------------------------------

RETENTION_KINDS = {
    "senior_revisit": _("Senior revisit (高层回访)"),
    "offer_review": _("Offer review"),
}


def _editable_customer(actor: Any, customer_id: int) -> Customer:
    customer = Customer.objects.visible_to(actor).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("customer")
    if not Customer.objects.editable_by(actor).filter(pk=customer_id).exists():
        raise Forbidden(_("You may not act on this customer."))
    return customer


def _due(value: Any) -> date:
    if value in (None, ""):
        return timezone.localdate() + timedelta(days=3)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise InvalidInput(errors={"due_on": [str(_("Enter a date as YYYY-MM-DD."))]}) from error


@transaction.atomic
def retention_task(
    *, actor: Any, customer_id: int, kind: str, due_on: Any = None, note: str = ""
) -> Task:
    """A retention task for the customer's owner: a senior revisit (高层回访) or an offer
    review. A second request while one of the same kind is open returns the open one."""
    from kehu.followups.services import local_at, task_create

    customer = _editable_customer(actor, customer_id)
    errors: dict[str, list[str]] = {}
    if kind not in RETENTION_KINDS:
        errors["kind"] = [str(_("Choose a senior revisit or an offer review."))]
    due = None
    try:
        due = _due(due_on)
    except InvalidInput as error:
        errors.update(error.errors or {})
    if due is not None and due < timezone.localdate():
        errors["due_on"] = [str(_("The due date cannot be in the past."))]
    if len(note) > 2000:
        errors["note"] = [str(_("Keep the note under 2,000 characters."))]
    if errors:
        raise InvalidInput(errors=errors)
    assert due is not None
    reasons = CustomerScore.objects.filter(pk=customer.pk).values_list("churn_reasons", flat=True)
    from kehu.analytics.selectors.scores import reasons_text

    found = reasons.first()
    description = "\n".join(part for part in (reasons_text(found or []), note.strip()) if part)
    return task_create(
        actor=actor,
        assignee=customer.owner or actor,  # a pooled customer has no owner: the actor
        title=f"{RETENTION_KINDS[kind]}: {customer.name}",
        due_at=local_at(due, 10),
        customer=customer,
        priority="high",
        kind=TaskKind.RETENTION,
        description=description,
        dedupe_key=f"retention:{kind}:{customer.pk}",
    )


@transaction.atomic
def assign_plan_owner(*, actor: Any, customer_id: int, user_id: Any) -> CustomerScore:
    """Appoint the one-to-one plan owner of a customer (usually a high-value one) and give
    them a task to draw up the plan."""
    from django.contrib.auth import get_user_model

    from kehu.followups.services import local_at, task_create

    customer = _editable_customer(actor, customer_id)
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        raise InvalidInput(errors={"user_id": [str(_("Choose an active user."))]}) from None
    user = get_user_model().objects.filter(pk=uid, is_active=True).first()
    if user is None or not Customer.objects.visible_to(user).filter(pk=customer.pk).exists():
        raise InvalidInput(
            errors={"user_id": [str(_("Choose an active user who sees this customer."))]}
        )
    if not CustomerScore.objects.filter(pk=customer.pk).exists():
        recompute([customer.pk])
    row = CustomerScore.objects.select_for_update().get(pk=customer.pk)
    row.plan_owner = user
    row.save(update_fields=["plan_owner"])
    task_create(
        actor=actor,
        assignee=user,
        title=str(_("One-to-one plan: %(name)s")) % {"name": customer.name},
        due_at=local_at(timezone.localdate() + timedelta(days=7), 10),
        customer=customer,
        kind=TaskKind.VALUE_PLAN,
        dedupe_key=f"value_plan:{customer.pk}:{user.pk}",
    )
    return row
