"""Follow-up records (跟进记录), tasks (跟进任务), cadence plans, care dates and calendar feeds."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import ClassVar

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kehu.core.access import ScopedQuerySet
from kehu.core.history import HISTORY_BASES
from kehu.core.models import TimestampedModel, VersionedModel
from kehu.customers.models import CustomerStatus, Grade
from kehu.followups.access import CustomerDelegatedPolicy
from kehu.followups.team_rules import TeamRulePolicy


class Method(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    VISIT = "visit", _("Visit")
    MEETING = "online_meeting", _("Online meeting")
    WECHAT = "wechat", _("WeChat")
    OTHER = "other", _("Other")


class Sentiment(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")


class RenewalIntent(models.TextChoices):
    """续约意向: what the customer said about renewing (blank: not discussed)."""

    LIKELY = "likely", _("Likely to renew")
    UNDECIDED = "undecided", _("Undecided")
    UNLIKELY = "unlikely", _("Unlikely to renew")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class TaskPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class TaskKind(models.TextChoices):
    MANUAL = "manual", _("Manual")
    NEXT_STEP = "next_step", _("Next step of a follow-up")
    CADENCE = "cadence", _("Planned follow-up")
    FIRST_CONTACT = "first_contact", _("First contact")
    VERIFY = "verify", _("Verify customer information")
    STALE_CONTACT = "stale_contact", _("Update contact information")
    MONTHLY_REVIEW = "monthly_review", _("Monthly review")
    CARE = "care", _("Care and greetings")
    RETENTION = "retention", _("Retention (senior revisit or offer review)")
    VALUE_PLAN = "value_plan", _("One-to-one plan for a high-value customer")
    FIRST_EMAIL = "first_email", _("First-talk email")


class FollowUp(VersionedModel):
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="followups",
    )
    contact = models.ForeignKey(
        "customers.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="followups",
    )
    related_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    related_id = models.PositiveBigIntegerField(null=True, blank=True)
    related = GenericForeignKey("related_type", "related_id")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("followed up by"),
        on_delete=models.PROTECT,
        related_name="followups",
    )
    occurred_at = models.DateTimeField(_("when"))
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    content = models.TextField(_("content"), max_length=10000)
    sentiment = models.CharField(
        _("customer feedback"), max_length=10, choices=Sentiment.choices, default=Sentiment.NEUTRAL
    )
    sentiment_reason = models.CharField(_("reason"), max_length=500, blank=True)
    renewal_intent = models.CharField(
        _("renewal intent"), max_length=10, choices=RenewalIntent.choices, blank=True, default=""
    )
    next_step_on = models.DateField(_("next step date"), null=True, blank=True)
    next_step_action = models.CharField(_("next step"), max_length=300, blank=True)
    next_step_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("next step owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified = models.BooleanField(_("information verified"), default=False)

    objects: ClassVar[ScopedQuerySet[FollowUp]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = CustomerDelegatedPolicy(via="customer")
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="followup_timeline"),
            # the list across customers, newest first: a manager's follow-ups at size L were
            # all joined and sorted for a page (9.8 s); along this index a page stops early
            models.Index(fields=["-occurred_at", "-id"], name="followup_recent"),
            # the churn-risk report counts renewal intents in a period: few rows carry one
            models.Index(
                fields=["occurred_at"],
                condition=~Q(renewal_intent=""),
                name="followup_renewal_intent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} · {self.get_method_display()} · {self.occurred_at:%Y-%m-%d}"

    @property
    def recorded_late(self) -> bool:
        return recorded_late(self.occurred_at, self.created_at)


def _attachment_path(instance: Attachment, filename: str) -> str:
    return f"followups/{timezone.now():%Y/%m}/{secrets.token_hex(8)}-{filename}"


class Attachment(TimestampedModel):
    followup = models.ForeignKey(
        FollowUp,
        verbose_name=_("follow-up"),
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("type"), max_length=100, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects: ClassVar[ScopedQuerySet[Attachment]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = CustomerDelegatedPolicy(via="followup__customer")

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Task(VersionedModel):
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=TaskKind.choices, default=TaskKind.MANUAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.PROTECT,
        related_name="tasks",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
    )
    related_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    related_id = models.PositiveBigIntegerField(null=True, blank=True)
    related = GenericForeignKey("related_type", "related_id")
    followup = models.ForeignKey(
        FollowUp,
        verbose_name=_("from follow-up"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    due_at = models.DateTimeField(_("due"))
    priority = models.CharField(
        _("priority"), max_length=10, choices=TaskPriority.choices, default=TaskPriority.NORMAL
    )
    status = models.CharField(
        _("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True, default="", db_index=True)

    objects: ClassVar[ScopedQuerySet[Task]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = CustomerDelegatedPolicy(via="customer", assignee_field="assignee")
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_due"),
            models.Index(fields=["status", "due_at"], name="task_status_due"),
            models.Index(fields=["due_at", "id"], name="task_due"),  # the list's order
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(status="open") & ~Q(dedupe_key=""),
                name="task_open_dedupe",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def effective_due(self) -> datetime:
        return effective_due(self.due_at, self.snoozed_until)

    @property
    def is_overdue(self) -> bool:
        return is_overdue(self.status, self.due_at, self.snoozed_until)


# The rules behind the properties above, for the API lists that read plain rows (values()).


def recorded_late(occurred_at: datetime, created_at: datetime) -> bool:
    """Written more than 2 hours after the contact (the handbooks' rule)."""
    return (created_at - occurred_at).total_seconds() > 2 * 3600


def effective_due(due_at: datetime, snoozed_until: datetime | None) -> datetime:
    return snoozed_until if snoozed_until and snoozed_until > due_at else due_at


def is_overdue(status: str, due_at: datetime, snoozed_until: datetime | None) -> bool:
    return status == TaskStatus.OPEN and effective_due(due_at, snoozed_until) < timezone.now()


class ReminderLog(models.Model):
    """Marks a periodic reminder as done once, whatever became of the task it created.

    Jobs write one row per dedupe key; a second run finds it and does nothing.
    """

    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("reminder log entry")
        verbose_name_plural = _("reminder log")

    def __str__(self) -> str:
        return self.key


class CadencePlan(VersionedModel):
    """跟进周期: how often customers of a status and/or grade are followed up.

    Without a department a plan is the company's (admins set it); a department's plan applies
    to the customers of that department and the ones below it, and replaces the company's (or
    a higher department's) plans for the customers it matches (``services.cadence_interval``).
    """

    name = models.CharField(_("name"), max_length=100)
    status = models.CharField(
        _("customer status"), max_length=20, choices=CustomerStatus.choices, blank=True
    )
    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices, blank=True)
    interval_days = models.PositiveIntegerField(_("every (days)"))
    action = models.CharField(_("suggested action"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: the whole company."),
    )

    objects: ClassVar[ScopedQuerySet[CadencePlan]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = TeamRulePolicy()
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("cadence plan")
        verbose_name_plural = _("cadence plans")
        ordering = ["interval_days", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~(Q(status="") & Q(grade="")), name="cadence_plan_has_target"
            ),
            models.CheckConstraint(condition=Q(interval_days__gte=1), name="cadence_interval_pos"),
        ]

    def __str__(self) -> str:
        return self.name


class CareKind(models.TextChoices):
    PUBLIC = "public", _("Public holiday")
    TRADITIONAL = "traditional", _("Traditional festival")
    CUSTOM = "custom", _("Custom")


class CareDate(VersionedModel):
    """A holiday in the care calendar (节日与关怀); generated for coming years, editable.

    Public holidays and traditional festivals are generated for the whole company
    (``reminders.care_calendar_refresh``): they can be switched off, not changed or deleted.
    Custom dates are added by admins (the whole company) or managers (their departments: the
    greeting tasks go to the owners in them).
    """

    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=CareKind.choices)
    is_active = models.BooleanField(_("send greetings"), default=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: the whole company."),
    )

    objects: ClassVar[ScopedQuerySet[CareDate]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = TeamRulePolicy()
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("care date")
        verbose_name_plural = _("care dates")
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "name"],
                condition=Q(department__isnull=True),
                name="care_date_unique",
            ),
            models.UniqueConstraint(
                fields=["date", "name", "department"],
                condition=Q(department__isnull=False),
                name="care_date_unique_department",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


def _feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """The secret address of a user's iCalendar task feed; regenerating it revokes the old one."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=_feed_token)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return str(self.user)


class EmailTemplate(TimestampedModel):
    """A template of the e-mail a rep sends after a talk (首次沟通后的个性化邮件), with merge
    fields such as ``{salutation}`` (``kehu.followups.emails.MERGE_FIELDS``). Managers and
    administrators edit them; reps choose one when they write."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"), max_length=10000)
    is_active = models.BooleanField(_("active"), default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects: ClassVar[models.Manager[EmailTemplate]] = models.Manager()
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("e-mail template")
        verbose_name_plural = _("e-mail templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SentEmail(models.Model):
    """An e-mail a rep sent a customer's contact from a follow-up, as the customer received it
    (on the customer's timeline); the first one after the first contact clears its reminder."""

    followup = models.ForeignKey(
        FollowUp, verbose_name=_("follow-up"), on_delete=models.CASCADE, related_name="emails"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="sent_emails",
    )
    contact = models.ForeignKey(
        "customers.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    template = models.ForeignKey(
        EmailTemplate,
        verbose_name=_("template"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    to_address = models.EmailField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"), max_length=20000)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)

    objects: ClassVar[ScopedQuerySet[SentEmail]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = CustomerDelegatedPolicy(via="customer")

    class Meta:
        verbose_name = _("sent e-mail")
        verbose_name_plural = _("sent e-mails")
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["customer", "-sent_at"], name="sent_email_customer")]

    def __str__(self) -> str:
        return f"{self.to_address} · {self.subject}"
