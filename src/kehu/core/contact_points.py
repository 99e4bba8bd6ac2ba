"""Phone numbers and e-mail addresses, cleaned the same way wherever people type them.

Customers, contacts, leads and imports store a phone in E.164 (+8613812345678, mainland China
by default) and an e-mail address in lower case, so duplicate checks and searches compare like
with like. ``normalize_*`` answer ``""`` for a blank value and raise ``InvalidInput`` on the
named field for one that is not a number or an address.

Both conversions are pure and remembered for the last few thousand values: a batch (an
import, a bulk upsert) checks each of its values more than once (cleaning, then the duplicate
check), and parsing an address or a number costs more than the rest of a record's checks.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from django.utils.translation import gettext as _

from kehu.core.errors import InvalidInput

DEFAULT_REGION = "CN"


@lru_cache(maxsize=4096)
def phone_e164(value: str, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164, or None when it is not a valid number (full-width digits pass)."""
    import phonenumbers

    text = unicodedata.normalize("NFKC", value or "").strip()
    if not text:
        return None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def email_address(value: str) -> str | None:
    """The address in lower case when it is syntactically valid (no DNS lookup), else None."""
    from email_validator import EmailNotValidError, validate_email

    text = (value or "").strip()
    if not text:
        return None
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return str(result.normalized).lower()


def normalize_phone(value: object, *, field: str = "mobile", region: str = DEFAULT_REGION) -> str:
    """``value`` in E.164, ``""`` when blank; InvalidInput on ``field`` when not a number."""
    text = str(value or "").strip()
    if not text:
        return ""
    number = phone_e164(text, region)
    if number is None:
        raise _field_error(
            field,
            _("%(value)s is not a valid phone number; write e.g. 13812345678 or 021-12345678.")
            % {"value": text[:40]},
        )
    return number


def normalize_email(value: object, *, field: str = "email") -> str:
    """``value`` in lower case, ``""`` when blank; InvalidInput on ``field`` when not valid."""
    text = str(value or "").strip()
    if not text:
        return ""
    address = email_address(text)
    if address is None:
        raise _field_error(
            field, _("%(value)s is not a valid email address.") % {"value": text[:80]}
        )
    return address


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={field: [message]})
