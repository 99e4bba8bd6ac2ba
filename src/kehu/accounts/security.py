"""Writes and checks of sign-in security: passwords, two-factor sign-in (TOTP), recovery codes.

The services of ``accounts`` for the second factor and the password policy (the rest of the
app's writes are in ``services.py``). Every change is audited through ``core.audit.record``
with ids only: ``security.password_changed``, ``security.2fa_enabled``,
``security.2fa_disabled``, ``security.recovery_code_used``,
``security.recovery_codes_regenerated`` and ``security.2fa_failed``.

The TOTP device is django-otp's ``TOTPDevice`` (6 digits, 30 s steps, one step of drift
either way; a code is refused once a code of its step or a later one was accepted, and failed
attempts back off exponentially). Recovery codes are ``RecoveryCode`` rows holding hashes.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from base64 import b32encode
from binascii import unhexlify
from typing import Any

import segno
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from kehu.accounts import conf
from kehu.accounts.models import RecoveryCode, User
from kehu.core import audit, config
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput

RECOVERY_CODES = 10
# No 0/o, 1/l/i: a code copied from paper is read back without doubt.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GENERATED_PASSWORD_GROUPS = 4  # xxxx-xxxx-xxxx-xxxx: 16 random characters, about 80 bits
DEVICE_NAME = "authenticator"


# --- passwords ------------------------------------------------------------------------------


def generate_password() -> str:
    """A random password that passes the policy (letters and digits, longer than its minimum)."""
    alphabet = string.ascii_letters + string.digits
    groups = max(GENERATED_PASSWORD_GROUPS, -(-int(config.get(conf.PASSWORD_MIN_LENGTH.key)) // 4))
    while True:
        password = "-".join(
            "".join(secrets.choice(alphabet) for _i in range(4)) for _g in range(groups)
        )
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


def check_password_policy(password: str, user: User | None = None) -> None:
    """Raise InvalidInput (field ``password``) when the password breaks the policy."""
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise InvalidInput(errors={"password": list(error.messages)}) from error


@transaction.atomic
def password_set(
    *, actor: User | None, user: User, password: str, must_change: bool = False
) -> User:
    """Set ``user``'s password after the policy check, and audit it.

    ``must_change`` sends the user to the password change at their next request (a password
    chosen by someone else); a user setting their own password clears the flag.
    """
    check_password_policy(password, user)
    user.set_password(password)
    user.must_change_password = must_change
    user.save(update_fields=["password", "must_change_password"])
    audit.record(
        "security.password_changed",
        actor=actor,
        target=user,
        details={"own": actor is not None and actor.pk == user.pk, "must_change": must_change},
    )
    return user


# --- two-factor: who must, who has ------------------------------------------------------------


def two_factor_required(user: User) -> bool:
    """Whether the settings oblige this user to sign in with a second factor."""
    if not config.get(conf.TWO_FACTOR_ENFORCED.key):
        return False
    roles = config.get(conf.TWO_FACTOR_ROLES.key) or []
    return user.role in roles or ("admin" in roles and user.is_superuser)


def totp_device(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator, or None."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def two_factor_enabled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


# --- two-factor: setting up and removing --------------------------------------------------------


def two_factor_new_key() -> str:
    """A fresh secret (hex) for the set-up page; it is kept in the session, not the database,
    until a code confirms it."""
    return str(random_hex(20))


def _unsaved_device(user: User, key: str) -> TOTPDevice:
    return TOTPDevice(user=user, name=DEVICE_NAME, key=key, confirmed=False)


def secret_of(key: str) -> str:
    """The key as the authenticator apps type it: base32 in groups of four."""
    text = b32encode(unhexlify(key)).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_svg(user: User, key: str) -> str:
    """The otpauth:// address as an inline SVG QR code (no images, no external service)."""
    address = _unsaved_device(user, key).config_url
    return str(segno.make(address, error="m").svg_inline(scale=4, border=2))


@transaction.atomic
def two_factor_confirm(*, user: User, key: str, code: str) -> list[str]:
    """Confirm the key of the set-up page with a code from the app: the device is saved and the
    recovery codes made; the answer is the codes, shown once. The confirming code cannot be
    used again to sign in."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # one set-up at a time
    if two_factor_enabled(user):
        raise InvalidInput(errors={"code": [_("Two-factor sign-in is already set up.")]})
    try:
        device = _unsaved_device(user, key)
        device.full_clean(exclude=["user"])
    except ValidationError as error:
        raise InvalidInput(
            errors={"code": [_("Start the set-up again: no key is waiting.")]}
        ) from error
    digits = _normalise(code)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time()
    if (
        not digits.isdigit()
        or len(digits) != device.digits
        or not totp.verify(int(digits), device.tolerance)
    ):
        raise InvalidInput(errors={"code": [_("The code is not right. Check the app's clock.")]})
    device.confirmed = True
    device.last_t = totp.t()
    device.drift = totp.drift
    TOTPDevice.objects.filter(user=user).delete()
    device.save()
    codes = _new_recovery_codes(user)
    audit.record("security.2fa_enabled", actor=user, target=user)
    return codes


@transaction.atomic
def two_factor_disable(*, user: User, code: str) -> None:
    """Remove the user's own second factor, proven by a current code or a recovery code."""
    if two_factor_required(user):
        raise Forbidden(_("Your role must sign in with two factors; it cannot be turned off."))
    device = totp_device(user)
    if device is None:
        raise InvalidInput(errors={"code": [_("Two-factor sign-in is not set up.")]})
    if not verify_second_factor(user=user, code=code):
        raise InvalidInput(errors={"code": [_("The code is not right.")]})
    _remove_second_factor(user)
    audit.record("security.2fa_disabled", actor=user, target=user, details={"by_admin": False})


@transaction.atomic
def two_factor_reset(*, actor: User | None, user: User) -> None:
    """An administrator removes a user's second factor (a lost phone and lost codes); the user
    sets it up again at the next sign-in if their role must have it. ``actor`` None is the
    server's operator (`kehu user reset-2fa`), for the administrator who lost their own."""
    if actor is not None and not is_admin(actor):
        raise Forbidden(_("Only CRM administrators may do this."))
    _remove_second_factor(user)
    audit.record(
        "security.2fa_disabled",
        actor=actor,
        actor_name="" if actor is not None else "cli",
        target=user,
        details={"by_admin": True},
    )


def _remove_second_factor(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()


@transaction.atomic
def recovery_codes_regenerate(*, user: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), proven by a current code."""
    device = totp_device(user)
    if device is None:
        raise InvalidInput(errors={"code": [_("Two-factor sign-in is not set up.")]})
    if not _totp_ok(device, code):
        raise InvalidInput(errors={"code": [_("The code is not right.")]})
    codes = _new_recovery_codes(user)
    audit.record("security.recovery_codes_regenerated", actor=user, target=user)
    return codes


# --- two-factor: checking a code ----------------------------------------------------------------


def _normalise(code: str) -> str:
    return "".join(char for char in code.lower() if char.isalnum())


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = []
    for _number in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _i in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    now = timezone.now()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=_hash(code), created_at=now) for code in codes
    )
    return codes


def _totp_ok(device: TOTPDevice, code: str) -> bool:
    digits = _normalise(code)
    if not digits.isdigit() or len(digits) != device.digits:
        return False
    return bool(device.verify_token(digits))


def verify_second_factor(*, user: User, code: str) -> bool:
    """A current TOTP code, or an unused recovery code (then used up), of the user.

    A code is good once: a TOTP code of a step already accepted is refused, a recovery code is
    marked used in the same UPDATE that checks it is unused. Failures count towards the
    device's back-off, recovery codes included.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return False
    allowed, _details = device.verify_is_allowed()
    if not allowed:
        return False
    normalised = _normalise(code)
    if normalised.isdigit():
        return _totp_ok(device, code)
    with transaction.atomic():
        used = RecoveryCode.objects.filter(
            user=user, code_hash=_hash(code), used_at__isnull=True
        ).update(used_at=timezone.now())
        if used:
            device.throttle_reset()
            audit.record(
                "security.recovery_code_used",
                actor=user,
                target=user,
                details={"left": recovery_codes_left(user)},
            )
            return True
    device.throttle_increment()
    return False


def second_factor_failed(user: User) -> None:
    """Audit a wrong code at sign-in (the user is known: the password was right)."""
    audit.record("security.2fa_failed", actor=user, target=user)


def throttled_seconds(user: User) -> int:
    """Seconds until the user may try a code again after failures (0: now)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return 0
    allowed, details = device.verify_is_allowed()
    if allowed or not details:
        return 0
    until: Any = details.get("locked_until")
    if until is None:
        return 0
    return max(1, int((until - timezone.now()).total_seconds()) + 1)
