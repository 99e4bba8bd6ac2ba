"""Abstract bases shared by the domain models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
