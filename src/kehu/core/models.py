"""Abstract bases shared by the domain models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class VersionedModel(TimestampedModel):
    """A mutable record with optimistic locking: a write with a stale ``version`` is refused."""

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True


class SystemSetting(models.Model):
    """An admin-editable setting; the defaults live in ``kehu.core.config.DEFAULTS``."""

    key = models.CharField(_("key"), max_length=100, primary_key=True)
    value = models.JSONField(_("value"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("system setting")
        verbose_name_plural = _("system settings")

    def __str__(self) -> str:
        return self.key


class SettingChange(models.Model):
    """One change of an admin setting: who, when, the value before and after, and why.

    Values are the effective ones (the default where no override was stored); ``reset`` marks a
    change back to the default, which removes the override.
    """

    key = models.CharField(_("setting"), max_length=100)
    old_value = models.JSONField(_("old value"), null=True)
    new_value = models.JSONField(_("new value"), null=True)
    reset = models.BooleanField(_("reset to default"), default=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    reason = models.TextField(_("reason"), blank=True, default="")
    request_id = models.CharField(_("request"), max_length=40, blank=True, default="")

    class Meta:
        verbose_name = _("setting change")
        verbose_name_plural = _("setting changes")
        ordering = ("-changed_at", "-id")
        indexes = [models.Index(fields=["key", "-changed_at"], name="core_settingchange_key")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.changed_at:%Y-%m-%d %H:%M}"


class AuditEntry(models.Model):
    """One entry of the append-only audit trail (``kehu.core.audit``).

    The application only ever inserts here. Each entry's ``hash`` covers its own fields and the
    previous entry's hash, so ``kehu audit verify`` finds any row changed or removed outside
    Kehu. Entries name their target by type and id and carry no personal data in ``details``:
    destroying a customer must not leave its name or phone in a table nobody may edit.
    The actor is stored as an id and a username, not a foreign key, so that nothing cascades
    into the table.
    """

    seq = models.PositiveBigIntegerField(pgettext_lazy("audit", "sequence"), unique=True)
    at = models.DateTimeField(pgettext_lazy("audit", "when"), default=timezone.now, db_index=True)
    actor_id = models.PositiveIntegerField(pgettext_lazy("audit", "actor id"), null=True, blank=True, db_index=True)
    actor_name = models.CharField(pgettext_lazy("audit", "actor"), max_length=150, blank=True, default="")
    action = models.CharField(pgettext_lazy("audit", "action"), max_length=60, db_index=True)
    target_type = models.CharField(pgettext_lazy("audit", "target type"), max_length=60, blank=True, default="")
    target_id = models.CharField(pgettext_lazy("audit", "target id"), max_length=64, blank=True, default="")
    details = models.JSONField(pgettext_lazy("audit", "details"), default=dict, blank=True)
    ip = models.CharField(pgettext_lazy("audit", "IP address"), max_length=45, blank=True, default="")
    request_id = models.CharField(_("request"), max_length=40, blank=True, default="")
    prev_hash = models.CharField(pgettext_lazy("audit", "previous hash"), max_length=64)
    hash = models.CharField(pgettext_lazy("audit", "hash"), max_length=64)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ("-seq",)
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="core_audit_target"),
            models.Index(fields=["action", "-at"], name="core_audit_action_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} @ {self.at:%Y-%m-%d %H:%M:%S}"


class AuditChainHead(models.Model):
    """The single row that holds the audit chain's last sequence number and hash.

    Writers lock it (``select_for_update``) so that entries are chained one after another on
    PostgreSQL; SQLite's IMMEDIATE transactions serialise them anyway. ``base_seq`` and
    ``base_hash`` mark where the kept chain begins after old entries were purged under the
    audit retention policy, so verification starts from there.
    """

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="")
    base_seq = models.PositiveBigIntegerField(default=0)
    base_hash = models.CharField(max_length=64, default="")

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")

    def __str__(self) -> str:
        return f"audit chain at #{self.seq}"
