"""Data governance records: retention policies and legal holds, destruction runs (tombstones),
personal-data requests (PIPL) and backups. The audit trail itself lives in ``kehu.core``
(``core/audit.py``) because every app records into it."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core.models import VersionedModel

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
