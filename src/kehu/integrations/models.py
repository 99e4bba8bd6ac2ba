"""Integration with other systems: outbound webhooks and external ids (ERP sync)."""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core import custom_fields
from kehu.core.models import TimestampedModel, VersionedModel

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


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookSubscription(VersionedModel):
    """An admin's subscription of a receiver URL to events (docs/integration.md, "Webhooks").

    Payloads are built as ``run_as`` sees the record: a record outside that user's scope is
    not sent, contact values are masked where that user sees them masked.
    """

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("receiver URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(_("signing secret"), max_length=200, default=new_webhook_secret)
    run_as = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("payloads as seen by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RETRYING = "retrying", _("Retrying")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class WebhookDelivery(TimestampedModel):
    """One event sent to one subscription, with its attempts' outcome (the delivery log).

    The body is fixed when the event is fanned out (the record as ``run_as`` saw it then); a
    manual redelivery is a new row with the same ``event_id``, so receivers de-duplicate.
    """

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.CharField(_("event id"), max_length=36, db_index=True)
    event = models.CharField(_("event"), max_length=40)
    instance_id = models.BigIntegerField()
    body = models.TextField()
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("time (ms)"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["subscription", "-id"], name="webhook_delivery_log")]


# --- Custom fields (自定义字段) ------------------------------------------------------------------


class CustomFieldKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    CONTACT = "contact", _("Contact")
    LEAD = "lead", _("Lead")
    OPPORTUNITY = "opportunity", _("Opportunity")
    TICKET = "ticket", _("Ticket")


class CustomField(VersionedModel):
    """An extra field an administrator defines for one kind of record (docs/custom-fields.md).

    The values live in the record's ``custom`` JSON column under ``key``; the record apps
    read these definitions through ``kehu.core.custom_fields`` (``services.custom_fields``
    installs the reader). A deleted field keeps its row (``deleted_at``) and the records keep
    their values for ``RESTORE_DAYS`` days, when the purge job removes both; restoring it in
    between brings everything back. ``filterable`` fields have an expression index on their
    value, created and dropped with the mark."""

    kind = models.CharField(_("record kind"), max_length=20, choices=CustomFieldKind.choices)
    key = models.CharField(_("key"), max_length=40)
    label_zh = models.CharField(_("label (Chinese)"), max_length=100)
    label_en = models.CharField(_("label (English)"), max_length=100, blank=True)
    type = models.CharField(_("type"), max_length=20, choices=custom_fields.TYPES)
    required = models.BooleanField(_("required"), default=False)
    help = models.CharField(_("help text"), max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    see_roles = models.JSONField(_("roles that see it"), default=list, blank=True)
    edit_roles = models.JSONField(_("roles that edit it"), default=list, blank=True)
    sensitive = models.BooleanField(_("sensitive"), default=False)
    filterable = models.BooleanField(_("filterable"), default=False)
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects: ClassVar[models.Manager[CustomField]] = models.Manager()

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["kind", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="custom_field_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}.{self.key}"

    def spec(self) -> custom_fields.FieldSpec:
        return custom_fields.FieldSpec(
            kind=self.kind,
            key=self.key,
            label_zh=self.label_zh,
            label_en=self.label_en,
            type=self.type,
            required=self.required,
            help=self.help,
            order=self.order,
            choices=tuple(self.choices or ()),
            see_roles=frozenset(self.see_roles or ()),
            edit_roles=frozenset(self.edit_roles or ()),
            sensitive=self.sensitive,
            filterable=self.filterable,
        )
