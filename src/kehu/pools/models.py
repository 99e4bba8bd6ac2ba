"""Shared customer pools (公海池), their events, offboarding records and contact reveals."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kehu.core.history import HISTORY_BASES
from kehu.core.models import VersionedModel


class Pool(VersionedModel):
    """A shared pool of owner-less customers, open to the members of some departments.

    A user belongs to the pool when their department is one of ``departments`` or lies below
    one of them (``Department.path``); managers of a member department belong to it too.
    Held customers whose department lies in a pool's departments return to that pool when the
    recycle rules apply.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    departments = models.ManyToManyField(
        "accounts.Department",
        verbose_name=_("member departments"),
        related_name="customer_pools",
        blank=True,
        help_text=_("Members of these departments and of every department below them."),
    )
    max_held_per_rep = models.PositiveIntegerField(
        _("maximum customers held per rep"),
        default=50,
        validators=[MaxValueValidator(100_000)],
        help_text=_("A rep holding this many customers cannot claim more. 0: no limit."),
    )
    max_claims_per_day = models.PositiveIntegerField(
        _("maximum claims per rep per day"),
        default=5,
        validators=[MaxValueValidator(10_000)],
        help_text=_("0: no limit."),
    )
    recycle_no_followup_days = models.PositiveIntegerField(
        _("recycle after days without follow-up"),
        default=30,
        validators=[MaxValueValidator(3650)],
        help_text=_("0: never."),
    )
    recycle_no_deal_days = models.PositiveIntegerField(
        _("recycle after days without a deal"),
        default=90,
        validators=[MaxValueValidator(3650)],
        help_text=_("0: never."),
    )
    warn_days_before = models.PositiveIntegerField(
        _("warn the owner days before recycling"),
        default=3,
        validators=[MaxValueValidator(365)],
    )
    cooling_days = models.PositiveIntegerField(
        _("cooling period in days"),
        default=7,
        validators=[MaxValueValidator(365)],
        help_text=_("A rep cannot claim back a customer they released for this many days."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("customer pool")
        verbose_name_plural = _("customer pools")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PoolEntry(models.Model):
    """Marks an owner-less customer as lying in one pool (deleted when someone takes it)."""

    customer = models.OneToOneField(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="pool_entry",
    )
    pool = models.ForeignKey(
        Pool, verbose_name=_("pool"), on_delete=models.PROTECT, related_name="entries"
    )
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("released by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("previous owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("pool entry")
        verbose_name_plural = _("pool entries")
        ordering = ["-entered_at", "-id"]
        indexes = [models.Index(fields=["pool", "-entered_at"], name="pool_entry_recent")]

    def __str__(self) -> str:
        return f"{self.customer_id} @ {self.pool_id}"


class EventKind(models.TextChoices):
    ENTERED = "entered", _("Put into the pool")
    CLAIMED = "claimed", _("Claimed")
    ASSIGNED = "assigned", _("Assigned from the pool")
    RELEASED = "released", _("Released to the pool")
    RECYCLED = "recycled", _("Recycled to the pool")


class PoolEvent(models.Model):
    """One business event of a pool: who moved which customer in or out, when and why.

    Daily claim limits, cooling periods and recycle warnings are computed from these rows.
    """

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="events")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="pool_events"
    )
    kind = models.CharField(_("event"), max_length=10, choices=EventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rep"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The rep who took or gave up the customer."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("pool event")
        verbose_name_plural = _("pool events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["user", "kind", "at"], name="pool_event_user_kind"),
            models.Index(fields=["customer", "kind", "at"], name="pool_event_customer_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.customer_id}"


class Offboarding(models.Model):
    """离职交接: one admin action that handed a leaving user's records to successors."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("leaving user"),
        on_delete=models.PROTECT,
        related_name="offboardings",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    mode = models.CharField(_("distribution"), max_length=20)
    pool = models.ForeignKey(
        Pool,
        verbose_name=_("customers returned to pool"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    summary = models.JSONField(_("summary"), default=dict)

    class Meta:
        verbose_name = _("offboarding")
        verbose_name_plural = _("offboardings")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.created_at:%Y-%m-%d}"


class RevealLog(models.Model):
    """An audited display of a contact's unmasked phone numbers and email."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    contact = models.ForeignKey(
        "customers.Contact", on_delete=models.CASCADE, related_name="reveals"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="contact_reveals"
    )
    fields = models.CharField(max_length=100)
    at = models.DateTimeField(default=timezone.now)
    request_id = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = _("contact reveal")
        verbose_name_plural = _("contact reveals")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.contact_id}"
