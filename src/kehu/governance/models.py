"""Data governance records: retention policies and legal holds, destruction runs (tombstones),
personal-data requests (PIPL) and backups. The audit trail itself lives in ``kehu.core``
(``core/audit.py``) because every app records into it."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core.models import VersionedModel
from kehu.customers.models import Customer

# --- Destruction (合规销毁) ---------------------------------------------------------------------


class DestructionKind(models.TextChoices):
    CUSTOMERS = "customers", pgettext_lazy("destruction kind", "Customers")
    CONTACT = "contact", pgettext_lazy("destruction kind", "Contact")
    LEAD = "lead", pgettext_lazy("destruction kind", "Lead")


class DestructionRun(models.Model):
    """The tombstone of one destruction (合规销毁): who ran it, under which policy or reason,
    and how many rows of each kind went, never whose. The audit trail holds the same facts in
    its ``governance.destruction`` entry (``audit_seq``)."""

    at = models.DateTimeField(_("destroyed at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("destroyed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(
        pgettext_lazy("destruction", "kind"), max_length=20, choices=DestructionKind.choices
    )
    policy_key = models.CharField(pgettext_lazy("destruction", "policy"), max_length=60, blank=True)
    reason = models.CharField(pgettext_lazy("destruction", "reason"), max_length=200)
    subjects = models.PositiveIntegerField(_("records destroyed"), default=0)
    counts = models.JSONField(_("rows per kind"), default=dict, blank=True)
    files_removed = models.PositiveIntegerField(_("files removed"), default=0)
    audit_seq = models.BigIntegerField(_("audit entry"), null=True, blank=True)

    objects: ClassVar[models.Manager[DestructionRun]] = models.Manager()

    class Meta:
        verbose_name = _("destruction")
        verbose_name_plural = _("destructions")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} ({self.subjects})"


# --- Personal-data requests (个人信息主体权利, PIPL arts. 44–47) ------------------------------


class RequestKind(models.TextChoices):
    ACCESS = "access", _("Access and copy (查阅复制)")
    CORRECTION = "correction", _("Correction (更正补充)")
    ERASURE = "erasure", _("Erasure (删除)")


class RequestStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("personal-data request", "Open")
    DONE = "done", pgettext_lazy("personal-data request", "Done")
    REFUSED = "refused", pgettext_lazy("personal-data request", "Refused")


class SubjectType(models.TextChoices):
    CONTACT = "contact", _("Contact")
    LEAD = "lead", _("Lead")


class SubjectRequest(VersionedModel):
    """A person's request about the data Kehu holds on them: a contact's or a lead's.

    ``subject_type`` and ``subject_id`` name the person and stay after an erasure (the links
    ``contact`` / ``lead`` are then empty), so the log keeps what was asked and done without
    any personal data. ``notes`` are the handler's and must not repeat the person's details.
    """

    kind = models.CharField(_("request"), max_length=20, choices=RequestKind.choices)
    subject_type = models.CharField(_("person is a"), max_length=10, choices=SubjectType.choices)
    subject_id = models.BigIntegerField(_("person's record"))
    contact = models.ForeignKey(
        "customers.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    lead = models.ForeignKey(
        "leads.Lead",
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    received_on = models.DateField(pgettext_lazy("personal-data request", "received on"))
    deadline = models.DateField(_("answer by"))
    status = models.CharField(
        pgettext_lazy("personal-data request", "status"),
        max_length=10,
        choices=RequestStatus.choices,
        default=RequestStatus.OPEN,
    )
    refusal_reason = models.CharField(_("reason for refusing"), max_length=500, blank=True)
    notes = models.TextField(_("notes"), max_length=2000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("logged by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("personal-data request")
        verbose_name_plural = _("personal-data requests")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "deadline"], name="subject_request_due"),
            models.Index(fields=["subject_type", "subject_id"], name="subject_request_subject"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


# --- Backups ---------------------------------------------------------------------------------


class BackupKind(models.TextChoices):
    SCHEDULED = "scheduled", pgettext_lazy("backup", "scheduled")
    MANUAL = "manual", pgettext_lazy("backup", "manual")


class BackupRun(models.Model):
    """One backup (``kehu backup`` or the daily job), written once it has ended, ok or not, so
    an archive never contains the row of its own unfinished run. ``pruned_at`` is set when the
    rotation removed the archive."""

    started_at = models.DateTimeField(pgettext_lazy("backup", "started"), default=timezone.now)
    finished_at = models.DateTimeField(
        pgettext_lazy("backup", "finished"), default=timezone.now, db_index=True
    )
    kind = models.CharField(
        pgettext_lazy("backup", "kind"), max_length=16, choices=BackupKind.choices
    )
    path = models.CharField(pgettext_lazy("backup", "archive"), max_length=1000)
    size = models.BigIntegerField(pgettext_lazy("backup", "size"), null=True, blank=True)
    sha256 = models.CharField(
        pgettext_lazy("backup", "SHA-256"), max_length=64, blank=True, default=""
    )
    ok = models.BooleanField(pgettext_lazy("backup", "succeeded"), default=False)
    error = models.TextField(pgettext_lazy("backup", "error"), blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=pgettext_lazy("backup", "by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    pruned_at = models.DateTimeField(
        pgettext_lazy("backup", "removed by rotation"), null=True, blank=True
    )

    objects: ClassVar[models.Manager[BackupRun]] = models.Manager()

    class Meta:
        verbose_name = pgettext_lazy("backup", "backup")
        verbose_name_plural = pgettext_lazy("backup", "backups")
        ordering = ("-finished_at", "-pk")

    def __str__(self) -> str:
        return self.path


# --- Retention and legal hold (docs/governance.md, "Retention and legal hold") ----------------

MIN_YEARS = 1
MAX_YEARS = 10


class RecordKind(models.TextChoices):
    CUSTOMER = "customer", pgettext_lazy("record kind", "Customer")
    LEAD = "lead", pgettext_lazy("record kind", "Lead")


class RetentionPolicy(VersionedModel):
    """How long records of one kind in one status are kept after their last activity.

    One row per ``key`` (``customer.churned``, ``lead.closed``…); the rows are Kehu's own
    (``kehu.governance.services.retention.DEFAULT_POLICIES``): an administrator changes the
    years and switches a policy on or off, never adds a kind."""

    key = models.CharField(pgettext_lazy("retention", "policy"), max_length=40, unique=True)
    kind = models.CharField(
        pgettext_lazy("retention", "record kind"), max_length=20, choices=RecordKind.choices
    )
    status = models.CharField(pgettext_lazy("retention", "status"), max_length=20)
    years = models.PositiveSmallIntegerField(
        _("years kept"),
        validators=[MinValueValidator(MIN_YEARS), MaxValueValidator(MAX_YEARS)],
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects: ClassVar[models.Manager[RetentionPolicy]] = models.Manager()

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        ordering = ["kind", "key"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(years__gte=MIN_YEARS, years__lte=MAX_YEARS),
                name="retention_years_range",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class LegalHold(models.Model):
    """法律保全: while a hold is in force (``removed_at`` empty) the customer is never destroyed,
    whatever the retention policies say. A removed hold stays as the record of the removal."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=pgettext_lazy("retention", "customer"),
        on_delete=models.CASCADE,
        related_name="legal_holds",
    )
    reason = models.CharField(_("reason"), max_length=500)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    set_at = models.DateTimeField(pgettext_lazy("retention", "since"), default=timezone.now)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("removed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    removed_at = models.DateTimeField(pgettext_lazy("retention", "removed"), null=True, blank=True)
    removal_reason = models.CharField(_("reason for removal"), max_length=500, blank=True)

    objects: ClassVar[models.Manager[LegalHold]] = models.Manager()

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        ordering = ["-set_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(removed_at__isnull=True),
                name="legal_hold_one_active",
            ),
        ]
        indexes = [models.Index(fields=["customer", "removed_at"], name="legal_hold_customer")]

    def __str__(self) -> str:
        return f"hold {self.pk} on customer {self.customer_id}"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class BatchStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    APPROVED = "approved", pgettext_lazy("retention", "Approved")
    DONE = "done", pgettext_lazy("retention", "Done")
    CANCELLED = "cancelled", pgettext_lazy("retention", "Cancelled")


class DestructionBatch(VersionedModel):
    """The review list of one month: the records that fall due by the end of ``month`` (and
    any overdue ones no earlier batch holds). Nothing is destroyed before an administrator
    approves the batch; approved items are destroyed once their date has come."""

    month = models.DateField(pgettext_lazy("retention", "month"))
    status = models.CharField(
        pgettext_lazy("retention", "status"),
        max_length=12,
        choices=BatchStatus.choices,
        default=BatchStatus.PENDING,
    )
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(
        pgettext_lazy("retention", "approved"), null=True, blank=True
    )
    finished_at = models.DateTimeField(
        pgettext_lazy("retention", "finished"), null=True, blank=True
    )

    objects: ClassVar[models.Manager[DestructionBatch]] = models.Manager()

    class Meta:
        verbose_name = _("destruction review")
        verbose_name_plural = _("destruction reviews")
        ordering = ["-month", "-id"]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"


class ItemStatus(models.TextChoices):
    PENDING = "pending", _("To destroy")
    EXCLUDED = "excluded", _("Excluded at review")
    DESTROYED = "destroyed", pgettext_lazy("retention", "Destroyed")
    SKIPPED = "skipped", pgettext_lazy("retention", "Skipped")


class SkipReason(models.TextChoices):
    HELD = "held", _("Under legal hold")
    NOT_DUE = "not_due", _("No longer due (status or activity changed)")
    GONE = "gone", _("Already deleted")
    REFUSED = "refused", _("Refused by the destruction")


class DestructionItem(models.Model):
    """One record of a review list. It names the record by kind and id only: the list shows
    the name from the live record, so a destroyed record leaves no name here."""

    batch = models.ForeignKey(DestructionBatch, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(
        pgettext_lazy("retention", "record kind"), max_length=20, choices=RecordKind.choices
    )
    object_id = models.BigIntegerField(pgettext_lazy("retention", "record"))
    policy_key = models.CharField(pgettext_lazy("retention", "policy"), max_length=40)
    due_on = models.DateField(pgettext_lazy("retention", "due"))
    status = models.CharField(
        pgettext_lazy("retention", "status"),
        max_length=12,
        choices=ItemStatus.choices,
        default=ItemStatus.PENDING,
    )
    skip_reason = models.CharField(max_length=12, choices=SkipReason.choices, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[DestructionItem]] = models.Manager()

    class Meta:
        verbose_name = _("record to destroy")
        verbose_name_plural = _("records to destroy")
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "kind", "object_id"], name="destruction_item_unique"
            ),
        ]
        indexes = [models.Index(fields=["kind", "object_id"], name="destruction_item_record")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"
