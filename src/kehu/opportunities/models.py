"""Opportunities (销售机会): stages as data, stage history, attachments, loss reasons, rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kehu.core.access import AccessPolicy, ScopedQuerySet
from kehu.core.history import HISTORY_BASES
from kehu.core.models import TimestampedModel, VersionedModel
from kehu.customers.models import CustomerShare, Source

MAX_AMOUNT = Decimal("10000000000")  # 100亿: anything above is a typing error, not a deal


def _is_chinese() -> bool:
    return (get_language() or "zh-hans").lower().startswith("zh")


class StageKind(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", pgettext_lazy("forecast", "Pipeline")
    BEST_CASE = "best_case", _("Best case")
    COMMIT = "commit", _("Commit")
    CLOSED = "closed", _("Closed")
    OMITTED = "omitted", _("Omitted")


class Requirement(models.TextChoices):
    """What an opportunity must have before it may enter a stage."""

    AMOUNT = "amount", _("Expected amount")
    EXPECTED_CLOSE = "expected_close", _("Expected close date")
    NEEDS = "needs", _("Products / needs")
    COMPETITORS = "competitors", _("Competitors")
    NEXT_STEP = "next_step", _("Next step")
    PROPOSAL = "proposal", _("Attached proposal")
    QUOTE = "quote", _("Attached quote")
    CONTRACT = "contract", _("Attached contract")


class Currency(models.TextChoices):
    CNY = "CNY", _("Chinese yuan (CNY)")
    USD = "USD", _("US dollar (USD)")
    EUR = "EUR", _("Euro (EUR)")
    HKD = "HKD", _("Hong Kong dollar (HKD)")
    JPY = "JPY", _("Japanese yen (JPY)")


class ProbabilitySource(models.TextChoices):
    DEFAULT = "default", _("Default set by the administrator")
    HISTORY = "history", _("Historical conversion")


class Stage(models.Model):
    """A pipeline stage. Admins rename, reorder and add stages and set their requirements."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=80)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    kind = models.CharField(
        _("kind"), max_length=10, choices=StageKind.choices, default=StageKind.OPEN
    )
    forecast_category = models.CharField(
        _("forecast category"),
        max_length=20,
        choices=ForecastCategory.choices,
        default=ForecastCategory.PIPELINE,
    )
    entry_criterion_zh = models.CharField(
        _("entry criterion (Chinese)"), max_length=300, blank=True
    )
    entry_criterion_en = models.CharField(
        _("entry criterion (English)"), max_length=300, blank=True
    )
    actions_zh = models.TextField(
        _("required actions (Chinese)"), blank=True, help_text=_("One action per line.")
    )
    actions_en = models.TextField(
        _("required actions (English)"), blank=True, help_text=_("One action per line.")
    )
    requirements = models.JSONField(
        _("required before entering"), default=list, blank=True, help_text=_("Requirement codes.")
    )
    default_probability = models.PositiveSmallIntegerField(
        _("default win probability (%)"),
        default=10,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"), default=10, editable=False
    )
    probability_source = models.CharField(
        max_length=10,
        choices=ProbabilitySource.choices,
        default=ProbabilitySource.DEFAULT,
        editable=False,
    )
    probability_sample = models.PositiveIntegerField(default=0, editable=False)
    probability_window_months = models.PositiveSmallIntegerField(default=12, editable=False)
    probability_computed_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_optional = models.BooleanField(
        _("optional"),
        default=False,
        help_text=_(
            "A deal may move past this stage without meeting its requirements; they are still "
            "demanded of a deal that enters it."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.name_zh if _is_chinese() else (self.name_en or self.name_zh)

    def weighted(self, amount: Decimal) -> Decimal:
        """``amount`` weighted by this stage's win probability (a deal, or a sum of them)."""
        return amount * self.probability / 100

    @property
    def entry_criterion(self) -> str:
        return self.entry_criterion_zh if _is_chinese() else self.entry_criterion_en

    @property
    def action_list(self) -> list[str]:
        text = self.actions_zh if _is_chinese() else self.actions_en
        return [line.strip() for line in text.splitlines() if line.strip()]

    @property
    def requirement_labels(self) -> list[str]:
        # the registry imports this module; codes from other apps are labelled there
        from kehu.opportunities.requirements import requirement_label

        return [requirement_label(code) for code in self.requirements]

    @property
    def is_open(self) -> bool:
        return self.kind == StageKind.OPEN


class LossReason(models.Model):
    """An entry of the admin-maintained list of reasons a deal was lost."""

    name_zh = models.CharField(_("Chinese name"), max_length=80)
    name_en = models.CharField(_("English name"), max_length=120)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("loss reason")
        verbose_name_plural = _("loss reasons")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.name_zh if _is_chinese() else (self.name_en or self.name_zh)


def _shared_customer_opportunities(user: Any, write: bool) -> models.QuerySet[Any, Any]:
    shares = CustomerShare.objects.filter(user=user)
    if write:
        shares = shares.filter(can_edit=True)
    return Opportunity.objects.filter(customer_id__in=shares.values("customer_id")).values("pk")


# What the pipeline board's totals, the forecast, the funnel and the dashboard panel read of
# each deal (selectors, panels): the owner and department indexes carry them for index-only
# scans.
REPORT_COLUMNS = [
    "stage",
    "amount",
    "closed_at",
    "expected_close",
    "stage_entered_at",
    "created_at",
    "furthest_stage_order",
]


class Opportunity(VersionedModel):
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    name = models.CharField(_("opportunity name"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="owned_opportunities",
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    amount = models.DecimalField(
        _("expected amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_AMOUNT)],
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY
    )
    expected_close = models.DateField(_("expected close date"), null=True, blank=True)
    stage = models.ForeignKey(
        Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="opportunities"
    )
    stage_entered_at = models.DateTimeField(_("in stage since"), default=timezone.now)
    competitors = models.CharField(_("competitors"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    needs = models.TextField(_("products / needs"), max_length=5000, blank=True)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    # 底线价格 and 可让步条件: sensitive like the amount (masked for users without full access)
    floor_price = models.DecimalField(
        _("floor price"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_AMOUNT)],
    )
    concessions = models.TextField(_("allowed concessions"), max_length=2000, blank=True)
    loss_reason = models.ForeignKey(
        LossReason,
        verbose_name=_("loss reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    loss_note = models.CharField(_("loss details"), max_length=1000, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    stalled_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The highest order of the non-lost stages the deal has entered (the funnel's step), kept
    # by the services so the funnel groups the deals instead of reading every stage change.
    furthest_stage_order = models.PositiveSmallIntegerField(null=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    custom = models.JSONField(_("custom fields"), default=dict, blank=True)  # 自定义字段
    objects: ClassVar[ScopedQuerySet[Opportunity]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(
        shared_ids=_shared_customer_opportunities,
        sensitive_fields=("amount", "floor_price", "concessions"),
    )
    history = HistoricalRecords(
        bases=HISTORY_BASES,
        excluded_fields=["updated_at", "stalled_notified_at", "furthest_stage_order"],
    )

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["-id"]
        indexes = [
            # PostgreSQL: both carry what the board's totals, the forecast and the funnel
            # read, so they are summed from an index alone (selectors.opportunity_board)
            models.Index(
                fields=["owner", "-id"],
                name="opportunity_owner_recent",
                include=["department", *REPORT_COLUMNS],
            ),
            models.Index(
                fields=["department", "-id"],
                name="opportunity_dept_recent",
                include=["owner", *REPORT_COLUMNS],
            ),
            models.Index(fields=["stage", "stage_entered_at"], name="opportunity_stage_age"),
            # the weekly review's stalled deals, oldest first across the open stages: without
            # it a manager's 102,573 stalled deals were joined and sorted (0.69 s at size L)
            models.Index(fields=["stage_entered_at", "id"], name="opportunity_stalled_order"),
            models.Index(fields=["expected_close"], name="opportunity_close"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.stage.kind == StageKind.OPEN

    @property
    def weighted_amount(self) -> Decimal | None:
        if self.amount is None:
            return None
        return self.stage.weighted(self.amount).quantize(Decimal("0.01"))


class StageChange(models.Model):
    """One stay of an opportunity in a stage: who moved it in and when, who moved it out."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes"
    )
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    exited_at = models.DateTimeField(_("left"), null=True, blank=True)
    exited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # why the deal entered this stage: required when it went back to an earlier stage
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["entered_at", "id"]
        indexes = [models.Index(fields=["stage", "entered_at"], name="stage_change_entered")]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.stage_id}"


class AttachmentKind(models.TextChoices):
    PROPOSAL = "proposal", _("Proposal")
    QUOTE = "quote", _("Quote")
    CONTRACT = "contract", _("Contract")
    OTHER = "other", _("Other")


def _attachment_path(instance: Attachment, filename: str) -> str:
    return f"opportunities/{instance.opportunity_id}/{filename}"


class Attachment(TimestampedModel):
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=AttachmentKind.choices, default=AttachmentKind.OTHER
    )
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class NotifyTarget(models.TextChoices):
    NOBODY = "", _("Nobody")
    SUPERVISOR = "supervisor", _("Sales supervisor (head/managers of the owner's department)")
    OWNER = "owner", _("Owner of the opportunity")
    ROLE = "role", _("Every user with a role")
    USER = "user", _("A named user")


class WorkflowRule(TimestampedModel):
    """When an opportunity enters ``stage`` (and amount ≥ min_amount): notify, create a task."""

    name = models.CharField(_("name"), max_length=200)
    stage = models.ForeignKey(
        Stage, verbose_name=_("when entering stage"), on_delete=models.CASCADE, related_name="+"
    )
    min_amount = models.DecimalField(
        _("only if the amount is at least"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
    )
    notify = models.CharField(
        _("notify"), max_length=20, choices=NotifyTarget.choices, blank=True, default=""
    )
    notify_role = models.CharField(_("role to notify"), max_length=20, blank=True)
    notify_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user to notify"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    create_task = models.BooleanField(_("create a task for the owner"), default=False)
    task_title = models.CharField(_("task title"), max_length=200, blank=True)
    task_due_days = models.PositiveSmallIntegerField(_("task due in days"), default=1)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("workflow rule")
        verbose_name_plural = _("workflow rules")
        ordering = ["stage__order", "id"]

    def __str__(self) -> str:
        return self.name


class WorkflowRun(models.Model):
    """A rule fired for one stage transition; the unique key makes it fire once."""

    rule = models.ForeignKey(WorkflowRule, on_delete=models.CASCADE, related_name="runs")
    stage_change = models.ForeignKey(StageChange, on_delete=models.CASCADE, related_name="+")
    ran_at = models.DateTimeField(default=timezone.now)
    notified = models.PositiveIntegerField(default=0)
    task_id = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("workflow run")
        verbose_name_plural = _("workflow runs")
        constraints = [
            models.UniqueConstraint(fields=["rule", "stage_change"], name="workflow_run_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}@{self.stage_change_id}"
