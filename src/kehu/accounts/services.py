"""Writes for users, departments and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import ApiToken, Department, Role, User
from kehu.core import audit
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.history import stamp
from kehu.core.services import invalid_input_from, validate

TOKEN_PREFIX = "kehu_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # shown to the user once, never stored


@transaction.atomic
def token_create(*, user: User, name: str, expires_at: datetime | None = None) -> IssuedToken:
    name = name.strip()
    if not name:
        raise InvalidInput(errors={"name": [_("Give the token a name.")]})
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(errors={"expires_at": [_("The expiry must be in the future.")]})
    prefix = secrets.token_hex(4)
    while ApiToken.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        expires_at=expires_at,
    )
    audit.record("auth.token_created", actor=user, target=token, details={"user_id": user.pk})
    return IssuedToken(token=token, plaintext=f"{TOKEN_PREFIX}{prefix}_{secret}")


@transaction.atomic
def token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens; another user's token is not found."""
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound("API token")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record("auth.token_revoked", actor=user, target=token, details={"user_id": user.pk})
    return token


def token_authenticate(raw: str) -> User | None:
    """The active user behind a presented token, or None (unknown, revoked, expired, inactive)."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    prefix, _sep, secret = raw[len(TOKEN_PREFIX) :].partition("_")
    if not prefix or not secret:
        return None
    # The department comes along: the access scope reads its path on every request.
    token = ApiToken.objects.select_related("user__department").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash_secret(secret)):
        return None
    if not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def department_create(
    *, name: str, parent: Department | None = None, actor: Any = None
) -> Department:
    department = Department(name=name.strip(), parent=parent)
    validate(department, exclude=["path"])
    stamp(department, actor=actor)
    department.save()
    return department


def department_get_or_create_path(names: list[str], *, actor: Any = None) -> Department:
    """Find or create a chain like ["华东区", "上海组"] and return the last department."""
    parent: Department | None = None
    for name in names:
        found = Department.objects.filter(parent=parent, name=name).first()
        parent = found or department_create(name=name, parent=parent, actor=actor)
    assert parent is not None
    return parent


@transaction.atomic
def user_create(
    *,
    username: str,
    role: str,
    password: str | None = None,
    department: Department | None = None,
    display_name: str = "",
    email: str = "",
    actor: Any = None,
    must_change_password: bool = False,
) -> User:
    """Create a user; ``must_change_password`` for a password the user did not choose (a
    generated one, one an administrator typed): they change it at their first sign-in."""
    if role not in Role.values:
        raise InvalidInput(
            errors={
                "role": [
                    _("Unknown role %(role)s; use one of %(roles)s.")
                    % {"role": role, "roles": ", ".join(Role.values)}
                ]
            }
        )
    if User.objects.filter(username=username).exists():
        raise InvalidInput(errors={"username": [_("A user with this name already exists.")]})
    user = User(
        username=username,
        role=role,
        department=department,
        display_name=display_name,
        email=email,
        is_staff=role == Role.ADMIN,
        must_change_password=bool(password) and must_change_password,
    )
    if password:
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise InvalidInput(errors={"password": list(error.messages)}) from error
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as error:
        raise invalid_input_from(error) from error
    stamp(user, actor=actor)
    user.save()
    audit.record(
        "accounts.user_created",
        actor=actor,
        target=user,
        details={"role": role, "department_id": user.department_id},
    )
    return user


@transaction.atomic
def user_deactivate(*, actor: User, user: User, reason: str) -> User:
    """Deactivate an account (admins): it can no longer sign in, and its API tokens are revoked.

    Browser sessions need no revoking: the authentication backend refuses inactive users on
    their next request. The change is stamped in the user's history with ``reason``.
    """
    if not is_admin(actor):
        raise Forbidden(_("Only CRM administrators may do this."))
    if user.pk == actor.pk:
        raise InvalidInput(errors={"user": [_("You cannot deactivate your own account.")]})
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_active:
        locked.is_active = False
        stamp(locked, actor=actor, reason=reason[:100])
        locked.save()
        audit.record("accounts.user_deactivated", actor=actor, target=locked)
    revoked = ApiToken.objects.filter(user=locked, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        audit.record("auth.token_revoked", actor=actor, target=locked, details={"tokens": revoked})
    return locked


def user_changes_record(
    *, actor: Any, user: User, role_before: str, department_before: int | None
) -> None:
    """Audit a saved user's role and department changes (``accounts.role_changed``,
    ``accounts.department_changed``) against the values before the save; the Django admin's
    user form saves through ``UserAdmin.save_model``, which calls this in its transaction."""
    if user.role != role_before:
        audit.record(
            "accounts.role_changed",
            actor=actor,
            target=user,
            details={"from": role_before, "to": user.role},
        )
    if user.department_id != department_before:
        audit.record(
            "accounts.department_changed",
            actor=actor,
            target=user,
            details={"from": department_before, "to": user.department_id},
        )
