"""Targets (目标) and the churn-risk and high-value scores (流失预警/高价值客户) of customers.

Report figures themselves are not stored: reports are selectors over the other apps' records
(``kehu/analytics/reports/``); a summary table exists only where a direct query cannot answer
within the speed target at size L, and a test proves it matches a direct recount.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kehu.core.access import AccessPolicy, ScopedQuerySet
from kehu.core.history import HISTORY_BASES
from kehu.core.models import VersionedModel


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")
    CUSTOM = "custom", _("Custom period")


class Measure(models.TextChoices):
    NEW_CUSTOMERS = "new_customers", _("New customers")
    WON_AMOUNT = "won_amount", _("Won amount")
    WON_DEALS = "won_deals", _("Won deals")
    LEADS_CONVERTED = "leads_converted", _("Leads converted")


class Newness(models.TextChoices):
    ANY = "", _("New and existing customers")
    NEW = "new", _("New customers (created in the period)")
    EXISTING = "existing", _("Existing customers (created before the period)")


def _department_targets(user: Any) -> Q:
    # A rep sees the targets of their own department as a whole (not other reps' own).
    return (
        Q(department_id=user.department_id, owner__isnull=True)
        if user.department_id
        else Q(pk__in=[])
    )


class Target(VersionedModel):
    """A goal for a period, for a department or a rep, optionally narrowed to a segment.

    "本季度新增30家制造业中小企业，其中华东区20家" is two targets on new customers for the same
    quarter and department: industry C with the small and medium size bands, value 30; and the
    same with region area "east", value 20, whose ``parent`` is the first.
    """

    name = models.CharField(_("name"), max_length=200, blank=True)
    period_kind = models.CharField(
        _("period"), max_length=10, choices=PeriodKind.choices, default=PeriodKind.QUARTER
    )
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rep"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    measure = models.CharField(_("measure"), max_length=20, choices=Measure.choices)
    value = models.DecimalField(
        _("target value"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    # The segment: empty means any.
    industry = models.ForeignKey(
        "customers.Industry",
        verbose_name=_("industry"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    region = models.CharField(
        _("region"), max_length=12, blank=True, help_text=_("A region code or a sales area.")
    )
    customer_kind = models.CharField(_("customer type"), max_length=20, blank=True)
    size_bands = models.JSONField(_("company sizes"), default=list, blank=True)
    newness = models.CharField(
        _("new or existing"), max_length=10, choices=Newness.choices, blank=True, default=""
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="parts",
    )
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects: ClassVar[ScopedQuerySet[Target]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    # Who may set targets (admins, managers for their departments) is the services' rule:
    # a rep reads their own targets but sets none (services.targets.may_set).
    access_policy = AccessPolicy(role_view={"sales": _department_targets})
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        ordering = ["-start", "id"]
        indexes = [
            models.Index(fields=["department", "start"], name="target_department_start"),
            models.Index(fields=["owner", "start"], name="target_owner_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="target_period")
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_measure_display()} {self.start}–{self.end}"


class CustomerScore(models.Model):
    """A customer's churn-risk and value scores with their reasons, recomputed by a job and
    on change. Reasons are codes with parameters (``{"code": "no_followup", "days": 90}``),
    rendered in the viewer's language."""

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="score"
    )
    churn_score = models.PositiveSmallIntegerField(_("churn risk"), default=0)
    churn_reasons = models.JSONField(default=list, blank=True)
    is_churn_risk = models.BooleanField(_("churn risk"), default=False)
    value_score = models.PositiveSmallIntegerField(_("value score"), default=0)
    value_reasons = models.JSONField(default=list, blank=True)
    is_high_value = models.BooleanField(_("high value"), default=False)
    won_amount_year = models.DecimalField(
        _("won in the last 12 months"), max_digits=14, decimal_places=2, default=Decimal(0)
    )
    orders_year = models.PositiveIntegerField(_("orders in the last 12 months"), default=0)
    orders_total = models.PositiveIntegerField(_("orders"), default=0)
    average_order = models.DecimalField(
        _("average order value"), max_digits=14, decimal_places=2, default=Decimal(0)
    )
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    plan_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("one-to-one plan owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)
    # The customer's owner and department as of the last recompute (a change of either
    # reports the customer changed, which recomputes it): the reports count the scores of a
    # viewer's parts (the gate's view_parts, on these columns) without joining a million
    # customers.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        indexes = [
            models.Index(fields=["is_churn_risk", "-churn_score"], name="score_churn"),
            models.Index(fields=["is_high_value", "-value_score"], name="score_value"),
            models.Index(
                fields=["owner"], condition=Q(is_churn_risk=True), name="score_churn_owner"
            ),
            models.Index(
                fields=["department"], condition=Q(is_churn_risk=True), name="score_churn_dept"
            ),
            models.Index(
                fields=["owner"], condition=Q(is_high_value=True), name="score_value_owner"
            ),
            models.Index(
                fields=["department"], condition=Q(is_high_value=True), name="score_value_dept"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.churn_score}/{self.value_score}"


class ActivityDay(models.Model):
    """The rep-performance report's summary: per local day, per record owner and department
    (the customer's for follow-ups and new customers, the deal's for won deals) and per rep
    (the follow-up's author, else the owner), the counts and the won amount.

    The rows hold only what the owner/department scope can filter: the report reads them for
    the viewer's own and managed rows (``full_access_parts``) and counts the rows granted
    beyond them (shares, pools) directly. Records after ``ActivitySummaryMark.complete_until``
    are counted directly too; a job every 15 minutes summarises today up to now and a nightly
    one recomputes the recent days (``activity_tasks``, ``summary.refresh``). A test compares
    the two on random data.
    """

    day = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    followups = models.PositiveIntegerField(default=0)
    visits = models.PositiveIntegerField(default=0)
    new_customers = models.PositiveIntegerField(default=0)
    won_deals = models.PositiveIntegerField(default=0)
    won_amount = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))

    class Meta:
        verbose_name = _("activity summary")
        verbose_name_plural = _("activity summaries")
        indexes = [models.Index(fields=["day", "department"], name="activity_day_department")]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id}/{self.department_id}/{self.rep_id}"


class ActivitySummaryMark(models.Model):
    """One row: ``ActivityDay`` holds every record before ``complete_until`` (the row of
    that instant's day holds the day up to it)."""

    complete_until = models.DateTimeField(null=True)
    summarised_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("activity summary mark")
        verbose_name_plural = _("activity summary marks")

    def __str__(self) -> str:
        return str(self.complete_until)


class DealFollowUpStats(models.Model):
    """One closed (won or lost) deal as the deal-cycle and follow-up effectiveness reports
    read it: its follow-ups while it was open, its cycle from the first contact, and the
    deal's and customer's columns the reports filter and scope by, copied.

    At size L a quarter holds 64,000 won deals: joined to their customers for the first
    contact, industry and size they took 0.85 s (54,000 customer look-ups), and counting
    each closed deal's follow-ups over 5,000,000 took 1.6 s for a rep, 3.6 s for an admin.
    Kept on every write of a deal, a follow-up or a customer (``services.pipeline``) and
    rebuilt by a nightly job (bulk loads and imports bypass the write path);
    ``tests/test_pipeline_reports.py`` compares it with a direct recount on random data.
    """

    opportunity = models.OneToOneField(
        "opportunities.Opportunity",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="followup_stats",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    industry = models.ForeignKey(
        "customers.Industry", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    region = models.ForeignKey(
        "customers.Region", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    employees_band = models.CharField(max_length=10, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    closed_at = models.DateTimeField()
    won = models.BooleanField(default=False)
    cycle_days = models.FloatField(default=0)  # first contact (or creation) → closed
    open_days = models.FloatField(default=0)  # created → closed
    followups = models.PositiveIntegerField(default=0)  # on the customer while open
    per_30_days = models.FloatField(default=0)  # followups per 30 open days (≥ 1 day)
    cadence = models.PositiveSmallIntegerField(default=0)  # bucket of per_30_days
    method = models.CharField(max_length=20, blank=True)  # the method used most ("" none)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("deal follow-up figures")
        verbose_name_plural = _("deal follow-up figures")
        indexes = [
            models.Index(fields=["closed_at"], name="deal_fu_stats_closed"),
            models.Index(fields=["owner", "closed_at"], name="deal_fu_stats_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.followups}"


class DealStageEntry(models.Model):
    """A deal's first entry into a stage, as the stage-conversion report reads it: with the
    deal's owner, department, customer's industry and region, whether it went further and
    whether it is won, copied.

    At size L a quarter holds 682,000 stays: joined to the deals and counted per deal with
    ``COUNT(DISTINCT)`` they took 3–5 s; one row per deal and stage needs a plain count on
    one table. Kept on every write of a deal, a stage change or a customer
    (``services.pipeline``) and rebuilt by the nightly job.
    """

    opportunity = models.ForeignKey(
        "opportunities.Opportunity", on_delete=models.CASCADE, related_name="+"
    )
    stage = models.ForeignKey("opportunities.Stage", on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField()
    stay_days = models.FloatField(null=True)  # the first stay's length, once it ended
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    industry = models.ForeignKey(
        "customers.Industry", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    region = models.ForeignKey(
        "customers.Region", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    advanced = models.BooleanField(default=False)  # reached a later stage since
    won = models.BooleanField(default=False)  # the deal is won now

    class Meta:
        verbose_name = _("deal stage entry")
        verbose_name_plural = _("deal stage entries")
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "stage"], name="deal_stage_entry_once")
        ]
        indexes = [
            # covering: an admin's quarter is 600,000 entries at size L, counted from the
            # index alone (1.27 s through the table's rows, bench/RESULTS.md round m)
            models.Index(
                fields=["entered_at"],
                name="deal_stage_entry_at",
                include=["stage", "advanced", "won", "stay_days", "owner", "department"],
            ),
            models.Index(fields=["owner", "entered_at"], name="deal_stage_entry_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.stage_id}"
