"""Integration with other systems: outbound webhooks and external ids (ERP sync)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# --- External ids (ERP sync) -------------------------------------------------------------------


class ExternalKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    CONTACT = "contact", _("Contact")
    OPPORTUNITY = "opportunity", _("Opportunity")


class ExternalId(models.Model):
    """The id a source system (an ERP: ``kingdee``, ``yonyou``…) gives one of Kehu's
    customers, contacts or opportunities. ``(kind, system, external_id)`` names one record;
    a record has at most one id per system. Rows are read and written only by
    ``kehu.integrations.services.external_ids``, which checks the record's scope first: the
    mapping itself carries no access rule (it is reached through its record).

    ``fingerprint`` is the hash of the last upserted input and ``seen_version`` the record's
    version after that write: the same input again on an unchanged record is "unchanged"
    without running the record's services (a nightly sync sends mostly such records)."""

    kind = models.CharField(_("kind"), max_length=20, choices=ExternalKind.choices)
    object_id = models.BigIntegerField(_("record"))
    system = models.CharField(_("system"), max_length=40)
    external_id = models.CharField(_("external id"), max_length=100)
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    seen_version = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects: ClassVar[models.Manager[ExternalId]] = models.Manager()

    class Meta:
        verbose_name = _("external id")
        verbose_name_plural = _("external ids")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "system", "external_id"], name="external_id_unique"
            ),
            models.UniqueConstraint(
                fields=["kind", "object_id", "system"], name="external_id_one_per_system"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.external_id}"
