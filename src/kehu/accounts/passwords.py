"""The password policy: one validator (AUTH_PASSWORD_VALIDATORS) that reads the admin's settings.

Django runs it on every password set through ``validate_password``: the profile's change form,
the administration's add and change forms, ``user_create`` (``kehu user add``) and
``security.password_set``. The settings are in ``accounts/conf.py`` (group "security").
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth.password_validation import (
    CommonPasswordValidator,
    UserAttributeSimilarityValidator,
)
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.accounts import conf
from kehu.core import config


@functools.cache
def _common() -> CommonPasswordValidator:
    return CommonPasswordValidator()  # reads its list of 20,000 passwords once


class PolicyValidator:
    """Length, letters and digits, the common/breached list, the user's own name."""

    def validate(self, password: str, user: Any = None) -> None:
        problems: list[ValidationError] = []
        minimum = int(config.get(conf.PASSWORD_MIN_LENGTH.key))
        if len(password) < minimum:
            problems.append(
                ValidationError(
                    ngettext(
                        "The password must have at least %(min)d character.",
                        "The password must have at least %(min)d characters.",
                        minimum,
                    )
                    % {"min": minimum},
                    code="password_too_short",
                )
            )
        if config.get(conf.PASSWORD_LETTERS_DIGITS.key) and not (
            any(char.isalpha() for char in password) and any(char.isdigit() for char in password)
        ):
            problems.append(
                ValidationError(
                    _("The password must contain both letters and digits."),
                    code="password_letters_digits",
                )
            )
        if config.get(conf.PASSWORD_COMMON.key):
            try:
                _common().validate(password)
            except ValidationError:
                problems.append(
                    ValidationError(
                        _("This password is on the list of common or breached passwords."),
                        code="password_too_common",
                    )
                )
        if config.get(conf.PASSWORD_USERNAME.key) and user is not None:
            username = str(getattr(user, "username", "") or "").casefold()
            if len(username) >= 3 and username in password.casefold():
                problems.append(
                    ValidationError(
                        _("The password must not contain the username."),
                        code="password_contains_username",
                    )
                )
            else:
                try:
                    UserAttributeSimilarityValidator(
                        user_attributes=("username", "display_name", "email")
                    ).validate(password, user)
                except ValidationError:
                    problems.append(
                        ValidationError(
                            _("The password is too similar to the username, name or e-mail."),
                            code="password_too_similar",
                        )
                    )
        if problems:
            raise ValidationError(problems)

    def get_help_text(self) -> str:
        minimum = int(config.get(conf.PASSWORD_MIN_LENGTH.key))
        parts = [
            ngettext("At least %(min)d character.", "At least %(min)d characters.", minimum)
            % {"min": minimum}
        ]
        if config.get(conf.PASSWORD_LETTERS_DIGITS.key):
            parts.append(_("Letters and digits."))
        if config.get(conf.PASSWORD_COMMON.key):
            parts.append(_("Not a common or breached password."))
        if config.get(conf.PASSWORD_USERNAME.key):
            parts.append(_("Not like your username, name or e-mail."))
        return " ".join(parts)
