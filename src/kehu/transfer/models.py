"""Import jobs, saved column mappings, the rows an import wrote, and the export audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers with contacts")
    CONTACTS = "contacts", _("Contacts of existing customers")
    LEADS = "leads", _("Leads")
    OPPORTUNITIES = "opportunities", _("Opportunities")
    FOLLOWUPS = "followups", _("Follow-ups")
    TICKETS = "tickets", _("Service tickets")


class ExportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers with contacts")
    CONTACTS = "contacts", _("Contacts")
    LEADS = "leads", _("Leads")
    OPPORTUNITIES = "opportunities", _("Opportunities")
    FOLLOWUPS = "followups", _("Follow-ups")


class OnDuplicate(models.TextChoices):
    SKIP = "skip", _("Skip the row")
    UPDATE = "update", _("Update the existing record")
    CREATE = "create", _("Create anyway")


class JobStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    CHECKING = "checking", _("Checking")
    CHECKED = "checked", _("Checked (dry run)")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


RUNNING_STATUSES = (JobStatus.CHECKING, JobStatus.IMPORTING)
STALE_AFTER = timedelta(minutes=10)


def empty_counts() -> dict[str, int]:
    return {"new": 0, "update": 0, "duplicate": 0, "invalid": 0, "created": 0, "updated": 0}


class ImportJob(models.Model):
    """One import of one file: options, progress, outcome and the resume point.

    Rows are written in batches, each in its own transaction together with ``next_row``; a
    crashed or cancelled import therefore holds whole batches only and resumes at ``next_row``.
    """

    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    file_path = models.CharField(_("file"), max_length=500)
    original_name = models.CharField(_("file name"), max_length=255)
    encoding = models.CharField(
        _("encoding"), max_length=20, blank=True, help_text=_("Empty: detect it.")
    )
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    on_duplicate = models.CharField(
        _("duplicates"), max_length=10, choices=OnDuplicate.choices, default=OnDuplicate.SKIP
    )
    row_decisions = models.JSONField(_("per-row decisions"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=JobStatus.choices, default=JobStatus.UPLOADED
    )
    dry_run = models.BooleanField(_("dry run"), default=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    next_row = models.PositiveIntegerField(
        _("resume at row"), default=0, help_text=_("Data rows before this one are written.")
    )
    counts = models.JSONField(_("counts"), default=empty_counts)
    errors = models.JSONField(_("first errors"), default=list, blank=True)
    duplicates = models.JSONField(_("duplicates"), default=list, blank=True)
    report = models.JSONField(_("verification report"), default=dict, blank=True)
    detected = models.JSONField(_("file details"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="import_jobs",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.original_name}"

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def is_stale(self) -> bool:
        """Running, but no batch finished for STALE_AFTER: its process died (crash, kill)."""
        last = self.heartbeat_at or self.started_at
        return self.is_running and last is not None and timezone.now() - last > STALE_AFTER

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status in (JobStatus.CHECKED, JobStatus.DONE) else 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))

    def count(self, name: str) -> int:
        value: Any = (self.counts or {}).get(name, 0)
        return int(value)


class ImportRecord(models.Model):
    """Which record a data row of an import created or updated (for verification)."""

    # no index of its own: import_record_row starts with the job
    job = models.ForeignKey(
        ImportJob, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    row_number = models.PositiveIntegerField()
    object_id = models.PositiveBigIntegerField()
    created = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("imported row")
        verbose_name_plural = _("imported rows")
        indexes = [models.Index(fields=["job", "row_number"], name="import_record_row")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_number} → {self.object_id}"


class ImportMapping(models.Model):
    """A named column mapping (file header → field), reusable in the UI and with --mapping."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    columns = models.JSONField(_("columns"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("column mapping")
        verbose_name_plural = _("column mappings")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExportLog(models.Model):
    """Audit record of every export: who, what, which filter, how many rows."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ExportKind.choices)
    file_format = models.CharField(_("format"), max_length=10)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    channel = models.CharField(_("channel"), max_length=10, default="web")
    request_id = models.CharField(_("request"), max_length=40, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_format} ({self.row_count})"
