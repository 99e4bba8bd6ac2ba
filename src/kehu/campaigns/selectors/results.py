"""Campaign results (复盘): reach, responses, leads, cost, attribution and ROI.

Every figure of one campaign, or of a list of campaigns (the comparison), is read in a fixed
number of grouped queries, whatever the number of members, touches, leads or deals:

- members, reach and responses: one query over ``CampaignMember`` grouped by campaign and the
  member's industry and region (so the goals can filter by them);
- messages sent, costs: one query each;
- leads and new customers: a campaign's leads are those captured through its forms (a
  ``LEAD`` touch, or the lead's web form attached to it) and its member leads; two queries over
  their union, grouped by industry and region;
- attribution: a deal's touches are the campaign touches on its customer up to the deal's
  creation, within the look-back window (``campaigns.attribution_lookback_days``); a lead's are
  its own touches up to its capture. The first and the last of them name the campaign the
  first-touch and the last-touch models credit: two queries for deals, two for leads, each
  grouped by the crediting campaign, industry and region.

Only touches that reached the person attribute (``ATTRIBUTING``): a message sent, a
response, a captured lead; being added to a list or unsubscribing does not.

Scope: admins see every campaign's results, marketing every campaign's, a manager those of
their departments' campaigns (``Campaign.objects.visible_to``); sales and service see none
(404). The figures are the campaign's, counted over every deal and lead it brought, not only
those the viewer sees; with ``campaigns.results_won_amounts`` = ``visible`` the won amounts
sum only the deals whose amount the viewer may see (docs/campaign-results.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy

from kehu.campaigns.models import (
    Campaign,
    CampaignCost,
    CampaignForm,
    CampaignGoal,
    CampaignMember,
    GoalMetric,
    Message,
    MessageStatus,
    Response,
    Touch,
    TouchKind,
)
from kehu.core import config
from kehu.core.access import is_admin, policy_of
from kehu.core.errors import InvalidInput, NotFound
from kehu.customers.models import Customer, Industry, Region
from kehu.leads.models import Lead, LeadStatus
from kehu.opportunities.models import Opportunity, StageKind

LOOKBACK_DAYS = config.define(
    "campaigns.attribution_lookback_days",
    180,
    gettext_lazy("Attribution look-back window"),
    group="campaigns",
    unit=config.DAYS,
    minimum=1,
    maximum=1095,
    help=gettext_lazy(
        "A deal is credited to the campaigns that touched its customer in this many days "
        "before the deal was created (first touch and last touch); older touches do not count."
    ),
)
WON_AMOUNTS = config.define(
    "campaigns.results_won_amounts",
    "all",
    gettext_lazy("Won amounts in campaign results"),
    group="campaigns",
    choices=("all", "visible"),
    help=gettext_lazy(
        "all: a campaign's won amount sums every deal it is credited with, for everyone who "
        "sees its results; visible: only the deals whose amount the viewer may see (the others "
        "are left out and the page says so)."
    ),
)

RESULT_ROLES = frozenset({"admin", "manager", "marketing"})
ATTRIBUTING = (TouchKind.MESSAGE, TouchKind.RESPONSE, TouchKind.LEAD)
RESPONDED = (Response.REGISTERED, Response.ATTENDED, Response.INTERESTED)
FUNNEL = (Response.INVITED, *RESPONDED)
COMPARE_MAX = 100  # campaigns on the comparison page (the API pages through all)

# (campaign id, industry code, region code): figures grouped so goals can filter them
Key = tuple[int, str | None, str | None]


# --- scope ----------------------------------------------------------------------------------
def may_see_results(user: Any) -> bool:
    return bool(user.is_active and (is_admin(user) or getattr(user, "role", "") in RESULT_ROLES))


def results_campaigns(user: Any) -> QuerySet[Campaign]:
    """The campaigns whose results ``user`` sees (none for sales and service)."""
    if not may_see_results(user):
        return Campaign.objects.none()
    return Campaign.objects.visible_to(user)


def campaign_for_results(user: Any, campaign_id: int) -> Campaign:
    campaign = (
        results_campaigns(user).select_related("owner", "department").filter(pk=campaign_id).first()
    )
    if campaign is None:
        raise NotFound("campaign")
    return campaign


# --- the figures ----------------------------------------------------------------------------
def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part / whole``; None (shown as —) when ``whole`` is 0."""
    if not whole:
        return None
    return Decimal(part) / Decimal(whole)


def percent_of(part: int, whole: int) -> Decimal | None:
    value = ratio(part, whole)
    return None if value is None else (value * 100).quantize(Decimal("0.1"))


@dataclass
class Attribution:
    """What one model (first or last touch) credits a campaign with."""

    leads: int = 0
    converted_leads: int = 0
    opportunities: int = 0
    won: int = 0
    won_amount: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)

    @property
    def roi(self) -> Decimal | None:
        """(won − cost) / cost; None when there was no cost."""
        value = ratio(self.won_amount - self.cost, self.cost)
        return None if value is None else value.quantize(Decimal("0.0001"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "leads": self.leads,
            "opportunities": self.opportunities,
            "won": self.won,
            "won_amount": self.won_amount,
            "roi": self.roi,
        }


@dataclass
class GoalResult:
    goal: CampaignGoal
    actual: Decimal

    @property
    def progress(self) -> Decimal | None:
        """Percent of the target reached (None for a target of 0)."""
        value = ratio(self.actual, self.goal.target)
        return None if value is None else (value * 100).quantize(Decimal("0.1"))

    @property
    def met(self) -> bool:
        return self.actual >= self.goal.target


@dataclass
class CampaignResults:
    campaign: Campaign
    members: int = 0
    funnel: dict[str, int] = field(default_factory=dict)  # members at or past each response
    responded: int = 0
    reached: int = 0
    messages_sent: int = 0
    leads: int = 0
    converted_leads: int = 0
    new_customers: int = 0
    cost: Decimal = Decimal(0)
    first: Attribution = field(default_factory=Attribution)
    last: Attribution = field(default_factory=Attribution)
    goals: list[GoalResult] = field(default_factory=list)
    amounts_masked: bool = False

    @property
    def response_rate(self) -> Decimal | None:
        return percent_of(self.responded, self.members)

    @property
    def reach_rate(self) -> Decimal | None:
        return percent_of(self.reached, self.members)

    @property
    def lead_conversion_rate(self) -> Decimal | None:
        return percent_of(self.converted_leads, self.leads)

    @property
    def cost_per_lead(self) -> Decimal | None:
        value = ratio(self.cost, self.leads)
        return None if value is None else value.quantize(Decimal("0.01"))

    @property
    def opportunities(self) -> int:
        return self.last.opportunities

    @property
    def won_amount(self) -> Decimal:
        return self.last.won_amount

    @property
    def roi(self) -> Decimal | None:
        return self.last.roi

    @property
    def budget_used(self) -> Decimal | None:
        if not self.campaign.budget:
            return None
        return percent_of_decimal(self.cost, self.campaign.budget)


def percent_of_decimal(part: Decimal, whole: Decimal) -> Decimal | None:
    value = ratio(part, whole)
    return None if value is None else (value * 100).quantize(Decimal("0.1"))


class _Grouped:
    """Figures per (campaign, industry, region), summed per campaign or for a goal."""

    def __init__(self) -> None:
        self.rows: dict[Key, dict[str, Any]] = {}

    def add(self, key: Key, **values: Any) -> None:
        row = self.rows.setdefault(key, defaultdict(int))
        for name, value in values.items():
            row[name] += value or 0

    def total(self, campaign_id: int, name: str, where: Any = None) -> Any:
        found: Any = 0
        for (campaign, industry, region), row in self.rows.items():
            if campaign == campaign_id and (where is None or where(industry, region)):
                found += row.get(name, 0)
        return found


@dataclass
class _Trees:
    """Parents of industries and regions: a goal on 制造业 (C) counts its divisions too."""

    industry_parent: dict[str, str | None]
    region_parent: dict[str, str | None]

    @classmethod
    def load(cls, goals: Iterable[CampaignGoal]) -> _Trees:
        goals = list(goals)
        industries: dict[str, str | None] = {}
        regions: dict[str, str | None] = {}
        if any(goal.industry_id for goal in goals):
            industries = dict(Industry.objects.values_list("code", "parent_id"))
        if any(goal.region_id for goal in goals):
            regions = dict(Region.objects.values_list("code", "parent_id"))
        return cls(industries, regions)

    @staticmethod
    def _within(code: str | None, root: str, parents: dict[str, str | None]) -> bool:
        seen = 0
        while code is not None and seen < 5:
            if code == root:
                return True
            code, seen = parents.get(code), seen + 1
        return False

    def matcher(self, goal: CampaignGoal) -> Any:
        def where(industry: str | None, region: str | None) -> bool:
            if goal.industry_id and not self._within(
                industry, goal.industry_id, self.industry_parent
            ):
                return False
            return not (
                goal.region_id and not self._within(region, goal.region_id, self.region_parent)
            )

        return where


def _member_figures(ids: list[int]) -> _Grouped:
    sent = Message.objects.filter(
        member_id=OuterRef("pk"), status=MessageStatus.SENT, send__is_test=False
    )
    responded = Q(response__in=RESPONDED)
    rows = (
        CampaignMember.objects.filter(campaign_id__in=ids)
        .annotate(
            industry=Coalesce("customer__industry_id", "lead__industry_id"),
            region=Coalesce("customer__region_id", "lead__region_id"),
        )
        .values("campaign_id", "industry", "region")
        .annotate(
            members=Count("id"),
            responded=Count("id", filter=responded),
            reached=Count("id", filter=responded | Q(Exists(sent))),
            **{
                f"at_{step}": Count("id", filter=Q(response__in=FUNNEL[index:]))
                for index, step in enumerate(FUNNEL)
            },
        )
        .order_by()
    )
    grouped = _Grouped()
    keys = ("campaign_id", "industry", "region")
    for row in rows:
        values: dict[str, Any] = dict(row)
        key = (values.pop(keys[0]), values.pop(keys[1]), values.pop(keys[2]))
        grouped.add(key, **values)
    return grouped


def _run(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _lead_pairs(ids: list[int]) -> tuple[str, list[Any]]:
    """SQL of the (campaign_id, lead_id) pairs of the campaigns' leads, without repeats."""
    captured = (
        Touch.objects.filter(campaign_id__in=ids, kind=TouchKind.LEAD, lead_id__isnull=False)
        .order_by()
        .values_list("campaign_id", "lead_id")
    )
    members = (
        CampaignMember.objects.filter(campaign_id__in=ids, lead_id__isnull=False)
        .order_by()
        .values_list("campaign_id", "lead_id")
    )
    forms = (
        Lead.objects.filter(
            web_form_id__in=CampaignForm.objects.filter(campaign_id__in=ids).values("web_form_id")
        )
        .annotate(pair_campaign=F("web_form__campaign_link__campaign_id"))
        .order_by()
        .values_list("pair_campaign", "id")
    )
    sql, params = captured.union(members, forms).query.sql_with_params()
    return sql, list(params)


def _lead_figures(ids: list[int]) -> tuple[_Grouped, _Grouped]:
    """The campaigns' leads and their conversions (by the lead's industry and region), and
    the new customers they became (by the customer's)."""
    pairs, params = _lead_pairs(ids)
    lead_table = connection.ops.quote_name(Lead._meta.db_table)
    customer_table = connection.ops.quote_name(Customer._meta.db_table)
    leads = _Grouped()
    # the union's columns take the names of its first part: campaign_id, lead_id
    rows = _run(
        f"SELECT p.campaign_id, l.industry_id, l.region_id, COUNT(*), "
        f"SUM(CASE WHEN l.status = %s THEN 1 ELSE 0 END) "
        f"FROM ({pairs}) p JOIN {lead_table} l ON l.id = p.lead_id "
        f"GROUP BY p.campaign_id, l.industry_id, l.region_id",
        [LeadStatus.CONVERTED.value, *params],
    )
    for campaign, industry, region, count, converted in rows:
        leads.add((campaign, industry, region), leads=count, converted=converted)
    customers = _Grouped()
    rows = _run(
        f"SELECT p.campaign_id, c.industry_id, c.region_id, COUNT(DISTINCT c.id) "
        f"FROM ({pairs}) p JOIN {lead_table} l ON l.id = p.lead_id "
        f"JOIN {customer_table} c ON c.id = l.customer_id WHERE l.status = %s "
        f"GROUP BY p.campaign_id, c.industry_id, c.region_id",
        [*params, LeadStatus.CONVERTED.value],
    )
    for campaign, industry, region, count in rows:
        customers.add((campaign, industry, region), customers=count)
    return leads, customers


def _crediting(touches: QuerySet[Touch], *, first: bool) -> Subquery:
    order = ("at", "id") if first else ("-at", "-id")
    return Subquery(touches.order_by(*order).values("campaign_id")[:1])


def _deal_figures(ids: list[int], user: Any, lookback: int) -> tuple[_Grouped, _Grouped, bool]:
    """Deals credited to the campaigns by first and last touch (by the customer's industry
    and region); and whether won amounts were left out for ``user``."""
    created = OuterRef("created_at")
    touches = Touch.objects.filter(
        customer_id=OuterRef("customer_id"),
        kind__in=ATTRIBUTING,
        at__lte=created,
        at__gte=ExpressionWrapper(
            created - Value(timedelta(days=lookback)), output_field=DateTimeField()
        ),
    )
    touched = Touch.objects.filter(campaign_id__in=ids, kind__in=ATTRIBUTING).values("customer_id")
    won = Q(stage__kind=StageKind.WON)
    visible = Q()
    if config.get(WON_AMOUNTS.key) == "visible":
        access = policy_of(Opportunity).full_access_filter(user)
        visible = access if access is not None else Q()
    results: list[_Grouped] = []
    masked = False
    for first in (True, False):
        rows = (
            Opportunity.objects.filter(customer_id__in=touched)
            .annotate(credited=_crediting(touches, first=first))
            .filter(credited__in=ids)
            .values("credited", "customer__industry_id", "customer__region_id")
            .annotate(
                opportunities=Count("id"),
                won=Count("id", filter=won),
                won_shown=Count("id", filter=won & visible),
                won_amount=Sum("amount", filter=won & visible),
            )
            .order_by()
        )
        grouped = _Grouped()
        for row in rows:
            key = (row["credited"], row["customer__industry_id"], row["customer__region_id"])
            masked = masked or row["won_shown"] != row["won"]
            grouped.add(
                key,
                opportunities=row["opportunities"],
                won=row["won"],
                won_amount=row["won_amount"] or Decimal(0),
            )
        results.append(grouped)
    return results[0], results[1], masked


def _lead_attribution(ids: list[int], lookback: int) -> tuple[_Grouped, _Grouped]:
    """Leads credited by first and last touch: the lead's own touches up to its capture (the
    capture's own ``LEAD`` touch, recorded just after it, included)."""
    created = OuterRef("created_at")
    touches = Touch.objects.filter(
        Q(at__lte=created) | Q(kind=TouchKind.LEAD),
        lead_id=OuterRef("pk"),
        kind__in=ATTRIBUTING,
        at__gte=ExpressionWrapper(
            created - Value(timedelta(days=lookback)), output_field=DateTimeField()
        ),
    )
    touched = Touch.objects.filter(campaign_id__in=ids, kind__in=ATTRIBUTING).values("lead_id")
    results: list[_Grouped] = []
    for first in (True, False):
        rows = (
            Lead.objects.filter(pk__in=touched)
            .annotate(credited=_crediting(touches, first=first))
            .filter(credited__in=ids)
            .values("credited", "industry_id", "region_id")
            .annotate(
                leads=Count("id"), converted=Count("id", filter=Q(status=LeadStatus.CONVERTED))
            )
            .order_by()
        )
        grouped = _Grouped()
        for row in rows:
            key = (row["credited"], row["industry_id"], row["region_id"])
            grouped.add(key, leads=row["leads"], converted=row["converted"])
        results.append(grouped)
    return results[0], results[1]


def _goal_actual(
    goal: CampaignGoal,
    where: Any,
    members: _Grouped,
    leads: _Grouped,
    customers: _Grouped,
    deals: _Grouped,
) -> Any:
    """What the campaign did towards ``goal``: deals and won amounts by last touch."""
    pk = goal.campaign_id
    metric = GoalMetric(goal.metric)
    if metric == GoalMetric.LEADS:
        return leads.total(pk, "leads", where)
    if metric == GoalMetric.CUSTOMERS:
        return customers.total(pk, "customers", where)
    if metric == GoalMetric.OPPORTUNITIES:
        return deals.total(pk, "opportunities", where)
    if metric == GoalMetric.WON_AMOUNT:
        return deals.total(pk, "won_amount", where)
    return members.total(pk, "responded", where)


def results_for(user: Any, campaigns: Sequence[Campaign]) -> list[CampaignResults]:
    """The results of ``campaigns`` (already scoped), in their order, in a fixed number of
    queries (13 at most, whatever the number of campaigns and rows)."""
    ids = [campaign.pk for campaign in campaigns]
    if not ids:
        return []
    lookback = int(config.get(LOOKBACK_DAYS.key))
    members = _member_figures(ids)
    sent = dict(
        Message.objects.filter(
            send__campaign_id__in=ids, status=MessageStatus.SENT, send__is_test=False
        )
        .values_list("send__campaign_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    costs = dict(
        CampaignCost.objects.filter(campaign_id__in=ids)
        .values_list("campaign_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    leads, customers = _lead_figures(ids)
    first_deals, last_deals, masked = _deal_figures(ids, user, lookback)
    first_leads, last_leads = _lead_attribution(ids, lookback)
    goals = list(
        CampaignGoal.objects.filter(campaign_id__in=ids).select_related("industry", "region")
    )
    trees = _Trees.load(goals)
    results = []
    for campaign in campaigns:
        pk = campaign.pk
        cost = costs.get(pk) or Decimal(0)
        result = CampaignResults(
            campaign=campaign,
            members=members.total(pk, "members"),
            funnel={step: members.total(pk, f"at_{step}") for step in FUNNEL},
            responded=members.total(pk, "responded"),
            reached=members.total(pk, "reached"),
            messages_sent=sent.get(pk, 0),
            leads=leads.total(pk, "leads"),
            converted_leads=leads.total(pk, "converted"),
            new_customers=customers.total(pk, "customers"),
            cost=cost,
            amounts_masked=masked,
        )
        for model, deals, model_leads in (
            (result.first, first_deals, first_leads),
            (result.last, last_deals, last_leads),
        ):
            model.cost = cost
            model.leads = model_leads.total(pk, "leads")
            model.converted_leads = model_leads.total(pk, "converted")
            model.opportunities = deals.total(pk, "opportunities")
            model.won = deals.total(pk, "won")
            model.won_amount = Decimal(deals.total(pk, "won_amount"))
        for goal in (goal for goal in goals if goal.campaign_id == pk):
            actual = _goal_actual(goal, trees.matcher(goal), members, leads, customers, last_deals)
            result.goals.append(GoalResult(goal=goal, actual=Decimal(actual)))
        results.append(result)
    return results


def campaign_results(user: Any, campaign_id: int) -> CampaignResults:
    return results_for(user, [campaign_for_results(user, campaign_id)])[0]


# --- the comparison -------------------------------------------------------------------------
@dataclass(frozen=True)
class CompareFilters:
    start: date | None = None
    end: date | None = None
    kind: str = ""
    department_id: int | None = None

    def as_params(self) -> dict[str, str]:
        params = {
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "type": self.kind,
            "department": str(self.department_id or ""),
        }
        return {key: value for key, value in params.items() if value}


def parse_compare_filters(params: Any) -> CompareFilters:
    """The comparison's filters from a query dict; a bad value is 422 naming it."""
    from kehu.campaigns.models import CampaignKind
    from kehu.core.numbers import MAX_INT

    errors: dict[str, list[str]] = {}
    dates: dict[str, date | None] = {}
    for name in ("from", "to"):
        raw = (params.get(name) or "").strip()
        try:
            dates[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            dates[name] = None
            errors[name] = [str(gettext_lazy("Enter a date as YYYY-MM-DD."))]
    start, end = dates["from"], dates["to"]
    if start and end and end < start:
        errors["to"] = [str(gettext_lazy("The end is before the start."))]
    kind = (params.get("type") or "").strip()
    if kind and kind not in CampaignKind.values:
        errors["type"] = [str(gettext_lazy("Unknown campaign type."))]
    raw_department = str(params.get("department") or "").strip()
    department: int | None = None
    if raw_department:
        if not raw_department.isascii() or not raw_department.isdecimal():
            errors["department"] = [str(gettext_lazy("Choose a department from the list."))]
        else:
            department = int(raw_department)
            if department > MAX_INT:
                errors["department"] = [str(gettext_lazy("Choose a department from the list."))]
    if errors:
        raise InvalidInput(errors=errors)
    return CompareFilters(start=start, end=end, kind=kind, department_id=department)


def compare_campaigns(user: Any, filters: CompareFilters) -> QuerySet[Campaign]:
    """The campaigns of the comparison: those whose results ``user`` sees that overlap the
    dates, of the type and department asked for, newest first."""
    rows = results_campaigns(user).select_related("department")
    if filters.start:
        rows = rows.filter(ends_on__gte=filters.start)
    if filters.end:
        rows = rows.filter(starts_on__lte=filters.end)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.department_id:
        rows = rows.filter(department_id=filters.department_id)
    return rows.order_by("-starts_on", "-id")
