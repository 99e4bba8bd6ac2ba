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
