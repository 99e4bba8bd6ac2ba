"""Users, the department tree and API tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from kehu.core.history import HISTORY_BASES


class Role(models.TextChoices):
    ADMIN = "admin", _("CRM administrator")
    MANAGER = "manager", _("Sales manager")
    SALES = "sales", _("Sales representative")
    SERVICE = "service", _("Customer service")
    MARKETING = "marketing", _("Marketing")


class Department(models.Model):
    """A node of the organisation tree, e.g. 华东区 → 上海组.

    `path` is a materialised path of primary keys ("/1/4/") so that "this department and all
    below it" is one indexed prefix query instead of a recursive walk.
    """

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    head = models.ForeignKey(
        "accounts.User",
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["path"])

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="department_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Keep ``path`` (and the paths of every department below) in step with ``parent``."""
        if self.path and self.parent is not None and self.parent.path.startswith(self.path):
            raise ValidationError(_("A department cannot be moved below itself."))
        parent_path = self.parent.path if self.parent is not None else "/"
        if self.pk is None:
            super().save(*args, **kwargs)
            self.path = f"{parent_path}{self.pk}/"
            Department.objects.filter(pk=self.pk).update(path=self.path)
            return
        old_path, self.path = self.path, f"{parent_path}{self.pk}/"
        super().save(*args, **kwargs)
        if old_path != self.path:
            Department.objects.filter(path__startswith=old_path).exclude(pk=self.pk).update(
                path=Concat(Value(self.path), Substr("path", len(old_path) + 1))
            )

    def subtree_ids(self) -> list[int]:
        return list(
            Department.objects.filter(path__startswith=self.path).values_list("id", flat=True)
        )


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SALES)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        choices=[("zh-hans", "简体中文"), ("en", "English")],
        help_text=_("Leave empty to follow the browser."),
    )
    # Where space is short (board columns, dashboards, chart axes): 2,171.6万 or ¥21,716,000.
    money_unit = models.CharField(
        _("amounts in short places"),
        max_length=4,
        choices=[("yuan", _("yuan (¥21,716,000)")), ("wan", _("10,000 yuan (2,171.6万)"))],
        default="yuan",
        help_text=_("Tables always show full amounts."),
    )
    # Set for an account created with a password someone else chose or Kehu generated
    # (`kehu user add` without --password, the administration's add form): until the user
    # picks their own, every page sends them to the password change (SignInRequirements).
    must_change_password = models.BooleanField(_("must change password"), default=False)

    objects: ClassVar[UserManager[User]] = UserManager()  # type: ignore[assignment]
    history = HistoricalRecords(
        bases=HISTORY_BASES, excluded_fields=["password", "last_login", "date_joined"]
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_crm_admin(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 hash of the secret is stored; it is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class RecoveryCode(models.Model):
    """One of a user's one-time recovery codes for two-factor sign-in.

    Only a SHA-256 hash of the code is stored (the codes are random, so no salt or slow hash is
    needed); the codes are shown once when made. A used code keeps its row with ``used_at``.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    used_at = models.DateTimeField(pgettext_lazy("recovery code", "used"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {'used' if self.used_at else 'unused'}"
