"""Leads (线索): capture, the lead pool, assignment rules, confirmation SLA, review, conversion."""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kehu.core.access import AccessPolicy, ScopedQuerySet
from kehu.core.history import HISTORY_BASES
from kehu.core.models import TimestampedModel, VersionedModel
from kehu.customers.models import Industry, Priority, Region, Source


class LeadStatus(models.TextChoices):
    POOL = "pool", _("In the pool")
    ASSIGNED = "assigned", _("Assigned, awaiting confirmation")
    CONFIRMED = "confirmed", _("Confirmed contactable")
    PENDING_REVIEW = "pending_review", _("Marked invalid, awaiting review")
    CLOSED = "closed", _("Closed as invalid")
    CONVERTED = "converted", _("Converted")


OPEN_STATUSES = (LeadStatus.POOL, LeadStatus.ASSIGNED, LeadStatus.CONFIRMED)


class Urgency(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class InvalidReason(models.TextChoices):
    EMPTY_NUMBER = "empty_number", _("Number does not exist (空号)")
    WRONG_INDUSTRY = "wrong_industry", _("Industry does not match (行业不符)")
    DUPLICATE = "duplicate", _("Duplicate (重复)")
    NO_NEED = "no_need", _("No need (无需求)")
    OTHER = "other", _("Other")


class WebForm(TimestampedModel):
    """A public web-to-lead form for one campaign or source, verified by its secret."""

    name = models.CharField(_("name"), max_length=100)
    key = models.SlugField(_("public key"), max_length=40, unique=True, editable=False)
    secret = models.CharField(_("secret"), max_length=64, editable=False)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    source_detail = models.CharField(_("source detail"), max_length=200, blank=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    redirect_url = models.URLField(
        _("thank-you page"),
        max_length=300,
        blank=True,
        help_text=_("Where visitors go after submitting; empty shows Kehu's own thank-you page."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("web form")
        verbose_name_plural = _("web forms")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.key:
            self.key = secrets.token_urlsafe(12).replace("_", "x").replace("-", "y").lower()
        if not self.secret:
            self.secret = secrets.token_urlsafe(24)
        super().save(*args, **kwargs)


def _pool_rows(user: Any) -> Q:
    return Q(assignee__isnull=True)


class Lead(VersionedModel):
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=100)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT
    )
    industry = models.ForeignKey(
        Industry, verbose_name=_("industry"), null=True, blank=True, on_delete=models.PROTECT
    )
    need = models.TextField(_("need"), max_length=5000, blank=True)
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.MEDIUM
    )
    estimated_value = models.DecimalField(
        _("estimated value (yuan)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    priority = models.CharField(_("priority"), max_length=1, choices=Priority.choices)
    priority_manual = models.BooleanField(_("priority set by hand"), default=False)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    source_detail = models.CharField(_("source detail"), max_length=200, blank=True)
    web_form = models.ForeignKey(
        WebForm,
        verbose_name=_("web form"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    extra = models.JSONField(_("other submitted fields"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.POOL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_leads",
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    confirm_due_at = models.DateTimeField(_("confirm by"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    sla_breached_at = models.DateTimeField(_("confirmation SLA missed at"), null=True, blank=True)
    first_contact_due_at = models.DateTimeField(_("first contact due"), null=True, blank=True)
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("flagged overdue at"), null=True, blank=True)
    invalid_reason = models.CharField(
        _("invalid reason"), max_length=20, choices=InvalidReason.choices, blank=True
    )
    invalid_note = models.CharField(_("invalid note"), max_length=500, blank=True)
    invalidated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invalidated_at = models.DateTimeField(_("marked invalid at"), null=True, blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    opportunity_id = models.PositiveBigIntegerField(_("opportunity"), null=True, blank=True)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    converted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    custom = models.JSONField(_("custom fields"), default=dict, blank=True)  # 自定义字段
    objects: ClassVar[ScopedQuerySet[Lead]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(
        owner_field="assignee",
        department_field="department",
        role_view={"marketing": lambda user: Q(pk__isnull=False), "manager": _pool_rows},
        role_edit={"marketing": _pool_rows, "manager": _pool_rows},
        sensitive_fields=("estimated_value",),
        contact_fields=("mobile", "email"),
    )
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "-id"], name="lead_status_recent"),
            models.Index(fields=["assignee", "status"], name="lead_assignee_status"),
            models.Index(fields=["department", "-id"], name="lead_dept_recent"),
            models.Index(fields=["confirm_due_at"], name="lead_confirm_due"),
            models.Index(fields=["first_contact_due_at"], name="lead_first_contact_due"),
        ]

    def __str__(self) -> str:
        return self.company_name or self.contact_name

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return bool(
            self.is_open
            and self.first_contact_at is None
            and self.first_contact_due_at is not None
            and self.first_contact_due_at < timezone.now()
        )

    @property
    def is_sla_late(self) -> bool:
        return bool(
            self.status == LeadStatus.ASSIGNED
            and self.confirm_due_at is not None
            and self.confirm_due_at < timezone.now()
        )


class EventKind(models.TextChoices):
    CAPTURED = "captured", _("Captured")
    UPDATED = "updated", _("Edited")
    ASSIGNED = "assigned", _("Assigned")
    CONFIRMED = "confirmed", _("Confirmed contactable")
    SLA_BREACHED = "sla_breached", _("Confirmation SLA missed")
    OVERDUE = "overdue", _("First-contact deadline missed")
    INVALIDATED = "invalidated", _("Marked invalid")
    REVIEW_CLOSED = "review_closed", _("Review: closed")
    REVIEW_REASSIGNED = "review_reassigned", _("Review: back to assignment")
    CONVERTED = "converted", _("Converted")


class LeadEvent(models.Model):
    """A business event on a lead, written by the service that did it (the lead's timeline)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.CharField(_("note"), max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("lead event")
        verbose_name_plural = _("lead events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "-at"], name="lead_event_recent")]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.kind}"


class AssignmentRule(VersionedModel):
    """An ordered rule: leads matching every filled condition go to its department or reps.

    Empty conditions match anything. Region codes may be provinces (matching every city in
    them) or cities; industry codes may be sections (matching their divisions) or divisions.
    """

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    region_codes = models.JSONField(_("regions"), default=list, blank=True)
    industry_codes = models.JSONField(_("industries"), default=list, blank=True)
    sources = models.JSONField(_("sources"), default=list, blank=True)
    priorities = models.JSONField(_("priorities"), default=list, blank=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lead_rules",
        help_text=_("Round-robin among the department's sales reps when no reps are chosen."),
    )
    reps = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("reps"), blank=True, related_name="lead_rules"
    )
    cursor = models.PositiveIntegerField(default=0, editable=False)
    history = HistoricalRecords(
        bases=HISTORY_BASES, excluded_fields=["updated_at", "cursor"], m2m_fields=[reps]
    )

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class PriorityRule(models.Model):
    """An ordered rule for S/A/B: the first rule whose filled conditions all match wins."""

    position = models.PositiveIntegerField(_("order"), default=0)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, blank=True)
    min_value = models.DecimalField(
        _("estimated value at least"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    priority = models.CharField(_("priority"), max_length=1, choices=Priority.choices)
    history = HistoricalRecords(bases=HISTORY_BASES)

    class Meta:
        verbose_name = _("priority rule")
        verbose_name_plural = _("priority rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}: {self.priority}"


class AssignmentRun(models.Model):
    """One run of the batch assignment (scheduled or by hand), so a day's run happens once."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateField(null=True, blank=True, unique=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    considered = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("assignment run")
        verbose_name_plural = _("assignment runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}: {self.assigned}/{self.considered}"
