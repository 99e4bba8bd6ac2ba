"""After-sales service (SEED_NOTES §6): handovers, tickets, SLAs on business time, surveys.

The loop 记录 → 处理 → 反馈 → 闭环: a won deal drafts a handover (服务交接单) that a service
specialist confirms; the customer's requests become tickets (工单) with SLA due times counted
on the business calendar; resolving one sends a satisfaction survey.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kehu.core.access import AccessPolicy, ScopedQuerySet
from kehu.core.history import HISTORY_BASES
from kehu.core.models import TimestampedModel, VersionedModel
from kehu.customers.models import Grade
from kehu.service.access import (
    handover_managed_specialist_rows,
    handover_specialist_rows,
    ticket_managed_customer_rows,
    ticket_own_customer_rows,
    ticket_team_rows,
)

# --- Handover (服务交接单) ------------------------------------------------------------------


class HandoverStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING = "pending", _("Awaiting confirmation")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Handover(VersionedModel):
    """A won customer handed from sales to a service specialist, who confirms receipt."""

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="handovers",
    )
    opportunity = models.ForeignKey(
        "opportunities.Opportunity",
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="handovers",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sales owner"),
        on_delete=models.PROTECT,
        related_name="handovers_written",
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=HandoverStatus.choices, default=HandoverStatus.DRAFT
    )
    needs = models.TextField(_("customer needs"), max_length=5000, blank=True)
    service_content = models.TextField(_("service content"), max_length=5000, blank=True)
    response_hours = models.PositiveIntegerField(
        _("promised response (hours)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 365)],
    )
    resolution_hours = models.PositiveIntegerField(
        _("promised resolution (hours)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 365)],
    )
    contract_terms = models.TextField(_("other key contract terms"), max_length=5000, blank=True)
    special_notes = models.TextField(_("special notes"), max_length=2000, blank=True)
    product = models.CharField(_("product"), max_length=100, blank=True)
    specialist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("service specialist"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handovers_received",
    )
    appointed_by_rule = models.ForeignKey(
        "service.RoutingRule",
        verbose_name=_("appointed by rule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)

    objects: ClassVar[ScopedQuerySet[Handover]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(
        owner_field="owner",
        department_field="department",
        role_view={
            "service": handover_specialist_rows,
            "manager": handover_managed_specialist_rows,
        },
        role_edit={"service": handover_specialist_rows},
        sensitive_fields=("contract_terms",),
    )
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("service handover")
        verbose_name_plural = _("service handovers")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["owner", "-id"], name="handover_owner_recent"),
            models.Index(fields=["specialist", "status"], name="handover_specialist"),
            models.Index(fields=["department", "-id"], name="handover_dept_recent"),
            models.Index(fields=["status", "submitted_at"], name="handover_pending_age"),
            models.Index(fields=["customer", "status"], name="handover_customer"),
        ]

    def __str__(self) -> str:
        return str(_("Handover of %(customer)s") % {"customer": self.customer})


def _handover_attachment_path(instance: HandoverAttachment, filename: str) -> str:
    return f"handovers/{instance.handover_id}/{filename}"


class HandoverAttachment(models.Model):
    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=_handover_attachment_path, max_length=300)
    name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


# --- Routing: who gets a handover or a ticket ------------------------------------------------


class RoutingTarget(models.TextChoices):
    HANDOVER = "handover", _("Handovers")
    TICKET = "ticket", _("Tickets")


class RoutingStrategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")


class TicketType(models.TextChoices):
    CONSULTATION = "consultation", _("Product question")
    SUPPORT = "support", _("Technical support")
    IMPROVEMENT = "improvement", _("Service improvement")
    COMPLAINT = "complaint", _("Complaint")


class RoutingRule(VersionedModel):
    """Appoints a specialist to a handover or an agent to a ticket, first matching rule wins.

    Empty conditions match anything; the members are chosen round-robin or least-loaded
    (open handovers / open tickets).
    """

    name = models.CharField(_("name"), max_length=100)
    target = models.CharField(_("applies to"), max_length=10, choices=RoutingTarget.choices)
    order = models.PositiveIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    ticket_type = models.CharField(
        _("ticket type"), max_length=20, choices=TicketType.choices, blank=True
    )
    region = models.ForeignKey(
        "customers.Region",
        verbose_name=_("region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    industry = models.ForeignKey(
        "customers.Industry",
        verbose_name=_("industry"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    product = models.CharField(_("product / skill"), max_length=100, blank=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("responsible department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    strategy = models.CharField(
        _("strategy"),
        max_length=20,
        choices=RoutingStrategy.choices,
        default=RoutingStrategy.LEAST_LOADED,
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="+", blank=True
    )
    last_member = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["target", "order", "id"]

    def __str__(self) -> str:
        return self.name


# --- Tickets (工单/需求) ----------------------------------------------------------------------


class TicketPriority(models.TextChoices):
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class TicketStatus(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting for customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


OPEN_TICKET_STATUSES = (
    TicketStatus.NEW,
    TicketStatus.ASSIGNED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.WAITING,
)


class TicketChannel(models.TextChoices):
    UI = "ui", _("Entered by staff")
    API = "api", _("API")
    EMAIL = "email", _("Email")
    WEB_FORM = "web_form", _("Web form")


class SlaState(models.TextChoices):
    ON_TRACK = "on_track", _("On track")
    WARNING = "warning", _("At risk")
    BREACHED = "breached", _("Breached")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met")


class Ticket(VersionedModel):
    """A customer's request or problem, handled within the SLA and closed with feedback."""

    number = models.CharField(_("number"), max_length=20, unique=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
        help_text=_("Empty for a ticket in triage (an email from an unknown sender)."),
    )
    contact = models.ForeignKey(
        "customers.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    requester_name = models.CharField(_("requester"), max_length=100, blank=True)
    requester_email = models.EmailField(_("requester email"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=200)
    content = models.TextField(_("content"), max_length=20000)
    ticket_type = models.CharField(
        _("type"), max_length=20, choices=TicketType.choices, default=TicketType.CONSULTATION
    )
    priority = models.CharField(
        _("priority"),
        max_length=10,
        choices=TicketPriority.choices,
        default=TicketPriority.MEDIUM,
    )
    product = models.CharField(_("product"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=TicketStatus.choices, default=TicketStatus.NEW
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=TicketChannel.choices, default=TicketChannel.UI
    )
    raised_at = models.DateTimeField(_("raised at"), default=timezone.now)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("responsible department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person responsible"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_tickets",
    )
    assigned_by_rule = models.ForeignKey(
        RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The promise told to the customer (承诺响应时间); re-planned only with a reason.
    promised_response_at = models.DateTimeField(_("promised response by"), null=True, blank=True)
    promised_resolution_at = models.DateTimeField(
        _("promised resolution by"), null=True, blank=True
    )
    # SLA due times on the business calendar; moved later by the pauses while waiting.
    sla_policy = models.ForeignKey(
        "service.SlaPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    response_due_at = models.DateTimeField(_("response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    paused_at = models.DateTimeField(_("SLA paused since"), null=True, blank=True)
    # Business minutes the clock stood still while waiting on the customer (ended pauses).
    sla_paused_minutes = models.PositiveIntegerField(
        _("SLA paused (business min)"), default=0, editable=False
    )
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Business minutes taken, recorded when the clock stops (reports read these, not events).
    response_minutes = models.PositiveIntegerField(_("response time (min)"), null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(
        _("resolution time (min)"), null=True, blank=True
    )
    warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    response_breached_at = models.DateTimeField(_("response SLA breached"), null=True, blank=True)
    resolution_breached_at = models.DateTimeField(
        _("resolution SLA breached"), null=True, blank=True
    )
    reopened_count = models.PositiveSmallIntegerField(_("reopened"), default=0)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_tickets",
    )
    satisfaction = models.PositiveSmallIntegerField(
        _("satisfaction"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
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
    objects: ClassVar[ScopedQuerySet[Ticket]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(
        owner_field="assignee",
        department_field="department",
        role_view={
            "service": ticket_team_rows,
            "sales": ticket_own_customer_rows,
            "manager": ticket_managed_customer_rows,
        },
        role_edit={"service": ticket_team_rows},
    )
    history = HistoricalRecords(
        bases=HISTORY_BASES, excluded_fields=["updated_at", "warned_at", "content"]
    )

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["assignee", "status", "-id"], name="ticket_assignee_status"),
            models.Index(fields=["department", "status", "-id"], name="ticket_dept_status"),
            models.Index(fields=["customer", "-id"], name="ticket_customer_recent"),
            models.Index(fields=["status", "resolution_due_at"], name="ticket_due"),
            models.Index(fields=["status", "response_due_at"], name="ticket_response_due"),
            models.Index(fields=["raised_at"], name="ticket_raised"),
            models.Index(fields=["requester_email"], name="ticket_requester_email"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TICKET_STATUSES


class MessageKind(models.TextChoices):
    NOTE = "note", _("Internal note")
    REPLY = "reply", _("Reply to customer")
    INBOUND = "inbound", _("From customer")


class TicketMessage(models.Model):
    """A line of a ticket's thread: an internal note, a reply e-mailed to the customer, or
    the customer's own message (the first e-mail, or a reply to ours)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("kind"), max_length=10, choices=MessageKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sender = models.CharField(_("from"), max_length=254, blank=True)
    body = models.TextField(_("message"), max_length=20000)
    # RFC 5322 Message-ID of the e-mail sent or received, so a reply finds its ticket.
    email_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    sent_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)
    send_error = models.CharField(_("sending failed"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="ticket_message_thread")]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.kind}"


class TicketEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    ASSIGNED = "assigned", _("Assigned")
    STATUS = "status", _("Status changed")
    REPLANNED = "replanned", _("Promise re-planned")
    WARNED = "warned", _("SLA warning")
    BREACHED = "breached", _("SLA breached")
    MERGED = "merged", _("Merged")
    REOPENED = "reopened", _("Reopened")
    SURVEYED = "surveyed", _("Satisfaction received")


class TicketEvent(models.Model):
    """What happened to a ticket, with the reason where one is required (re-planning)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=12, choices=TicketEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="ticket_event_order")]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.kind}"


# --- SLA on business time ---------------------------------------------------------------------


class SlaPolicy(VersionedModel):
    """Response and resolution times for a priority (and optionally a customer grade)."""

    priority = models.CharField(_("priority"), max_length=10, choices=TicketPriority.choices)
    customer_grade = models.CharField(
        _("customer grade"), max_length=1, choices=Grade.choices, blank=True
    )
    respond_minutes = models.PositiveIntegerField(
        _("respond within (business minutes)"), validators=[MinValueValidator(1)]
    )
    resolve_minutes = models.PositiveIntegerField(
        _("resolve within (business minutes)"), validators=[MinValueValidator(1)]
    )
    warn_before_minutes = models.PositiveIntegerField(
        _("warn before breach (business minutes)"), default=30
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["priority", "customer_grade"]
        constraints = [
            models.UniqueConstraint(
                fields=["priority", "customer_grade"], name="sla_policy_priority_grade"
            ),
            models.CheckConstraint(
                condition=models.Q(respond_minutes__gt=0, resolve_minutes__gt=0),
                name="sla_policy_positive",
            ),
        ]

    def __str__(self) -> str:
        grade = self.customer_grade or "*"
        return f"{self.get_priority_display()} / {grade}"


class CalendarDayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday (no work)")
    WORKDAY = "workday", _("Make-up working day (调休)")


class CalendarEntry(models.Model):
    """A range of days that differs from the normal working week: a public holiday, or a
    weekend made a working day (调休). Ranges never overlap (the services refuse it)."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=CalendarDayKind.choices)
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    source = models.CharField(_("source"), max_length=20, default="manual", editable=False)

    class Meta:
        verbose_name = _("business calendar entry")
        verbose_name_plural = _("business calendar entries")
        ordering = ["start"]
        indexes = [models.Index(fields=["start", "end"], name="calendar_entry_range")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="calendar_entry_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.start}–{self.end}"


# --- Inbound e-mail and the public form -------------------------------------------------------


class Mailbox(TimestampedModel):
    """An inbound mailbox polled over IMAP; each new e-mail becomes a ticket or a reply."""

    name = models.CharField(_("name"), max_length=100)
    host = models.CharField(_("IMAP host"), max_length=200)
    port = models.PositiveIntegerField(_("port"), default=993)
    use_ssl = models.BooleanField(_("SSL/TLS"), default=True)
    username = models.CharField(_("user name"), max_length=200)
    password = models.CharField(_("password"), max_length=200)
    folder = models.CharField(_("folder"), max_length=100, default="INBOX")
    address = models.EmailField(_("address replies come from"), max_length=254)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("responsible department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    uid_validity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class InboundEmail(models.Model):
    """One e-mail read from a mailbox, kept so none is lost or read twice."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="emails")
    message_id = models.CharField(max_length=255)
    sender = models.CharField(_("from"), max_length=254)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    is_reply = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("inbound email")
        verbose_name_plural = _("inbound emails")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "message_id"], name="inbound_email_once")
        ]

    def __str__(self) -> str:
        return self.message_id


class TicketWebForm(TimestampedModel):
    """A public form (like the lead web forms) through which customers raise tickets."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("address"), max_length=50, unique=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("responsible department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    default_type = models.CharField(
        _("default type"), max_length=20, choices=TicketType.choices, blank=True
    )
    thank_you = models.CharField(_("thank-you message"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("ticket web form")
        verbose_name_plural = _("ticket web forms")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# --- Satisfaction (反馈闭环) ------------------------------------------------------------------


class Survey(models.Model):
    """The one-click satisfaction survey sent when a ticket is resolved.

    The link carries a signed token of (survey id, nonce); it works once, until it expires.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="surveys")
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="surveys",
    )
    nonce = models.CharField(max_length=32, editable=False)
    sent_to = models.EmailField(_("sent to"), max_length=254, blank=True)
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    score = models.PositiveSmallIntegerField(
        _("score"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("comment"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["customer", "answered_at"], name="survey_customer_answered"),
            models.Index(fields=["answered_at"], name="survey_answered"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.score or '-'}"
