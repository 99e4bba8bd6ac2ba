"""Data governance records: retention policies and legal holds, destruction runs (tombstones),
personal-data requests (PIPL) and backups. The audit trail itself lives in ``kehu.core``
(``core/audit.py``) because every app records into it."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import pgettext_lazy


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
