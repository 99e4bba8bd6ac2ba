"""Sign-in security settings (group "security"): two-factor enforcement and the password policy."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core import config

CHARACTERS = pgettext_lazy("unit", "characters")

TWO_FACTOR_ENFORCED = config.define(
    "security.2fa_enforced",
    False,
    _("Require two-factor sign-in for the roles below"),
    group="security",
    help=_(
        "On: a user of a listed role without an authenticator app set up must set one up at the "
        "next sign-in before doing anything else. Off: two-factor sign-in is each user's choice."
    ),
)
TWO_FACTOR_ROLES = config.define(
    "security.2fa_required_roles",
    ["admin"],
    _("Roles that must use two-factor sign-in"),
    group="security",
    choices=config.ROLES,
    help=_("Applies once two-factor sign-in is required (the setting above)."),
)
PASSWORD_MIN_LENGTH = config.define(
    "security.password_min_length",
    10,
    _("Shortest password"),
    group="security",
    unit=CHARACTERS,
    minimum=8,
    maximum=128,
    help=_("Applies whenever a password is set: the profile, the administration, `kehu user add`."),
)
PASSWORD_LETTERS_DIGITS = config.define(
    "security.password_letters_and_digits",
    True,
    _("Passwords must contain letters and digits"),
    group="security",
    help=_("On: a password of letters only, or of digits only, is refused."),
)
PASSWORD_COMMON = config.define(
    "security.password_refuse_common",
    True,
    _("Refuse common and breached passwords"),
    group="security",
    help=_(
        "Checked offline against a list of 20,000 passwords known from breaches (Django's list); "
        "no password leaves the server."
    ),
)
PASSWORD_USERNAME = config.define(
    "security.password_refuse_username",
    True,
    _("Refuse passwords that contain or resemble the username, name or e-mail"),
    group="security",
    help=_(
        "On: a password containing the username, or too close to the name or e-mail, is refused."
    ),
)
