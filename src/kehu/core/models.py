"""Abstract bases shared by the domain models."""

from __future__ import annotations

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
