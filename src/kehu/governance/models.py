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
