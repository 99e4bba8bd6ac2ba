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
    """The address in lower case when it is syntactically valid (no DNS lookup), else None.

    ``email_validator.validate_email``'s syntax checks with its default options, step by step,
    with the domain's check remembered per domain (``_email_domain``): that check (IDNA,
    UTS #46 per character) is three quarters of an address's cost, and a batch's addresses
    share a few domains. The answers are the library's (``core/tests/test_contact_points``)."""
    import email_validator
    from email_validator import EmailNotValidError
    from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
    from email_validator.syntax import (
        split_email,
        validate_email_domain_literal,
        validate_email_length,
        validate_email_local_part,
    )
    from email_validator.types import ValidatedEmail

    text = (value or "").strip()
    if not text:
        return None
    try:
        display_name, original_local, local, quoted, domain_part = split_email(text)
        options = {
            "allow_smtputf8": email_validator.ALLOW_SMTPUTF8,
            "allow_empty_local": email_validator.ALLOW_EMPTY_LOCAL,
            "quoted_local_part": quoted,
            "strict": email_validator.STRICT,
        }
        info = validate_email_local_part(local, **options)
        normalized_local = unicodedata.normalize("NFC", local)
        if normalized_local != local:
            info = validate_email_local_part(normalized_local, **options)
        result = ValidatedEmail()
        result.original = original_local + "@" + domain_part
        result.local_part = info["local_part"]
        result.ascii_local_part = info["ascii_local_part"]
        if quoted and not email_validator.ALLOW_QUOTED_LOCAL:
            return None
        if (
            result.ascii_local_part is not None
            and result.ascii_local_part.lower() in CASE_INSENSITIVE_MAILBOX_NAMES
            and result.local_part is not None
        ):
            result.ascii_local_part = result.ascii_local_part.lower()
            result.local_part = result.local_part.lower()
        if not domain_part:
            return None
        if domain_part.startswith("[") and domain_part.endswith("]"):
            literal = validate_email_domain_literal(domain_part[1:-1])
            if not email_validator.ALLOW_DOMAIN_LITERAL:
                return None
            result.domain = result.ascii_domain = literal["domain"]
        else:
            domain = _email_domain(
                domain_part, email_validator.TEST_ENVIRONMENT, email_validator.GLOBALLY_DELIVERABLE
            )
            if domain is None:
                return None
            result.domain, result.ascii_domain = domain
        result.normalized = result.local_part + "@" + result.domain
        validate_email_length(result)
        if display_name is not None and not email_validator.ALLOW_DISPLAY_NAME:
            return None
    except EmailNotValidError:
        return None
    return str(result.normalized).lower()


@lru_cache(maxsize=1024)
def _email_domain(
    domain: str, test_environment: bool, globally_deliverable: bool
) -> tuple[str, str] | None:
    """The domain part's internationalized and ASCII forms, or None when it is not valid."""
    from email_validator import EmailNotValidError
    from email_validator.syntax import validate_email_domain_name

    try:
        info = validate_email_domain_name(
            domain, test_environment=test_environment, globally_deliverable=globally_deliverable
        )
    except EmailNotValidError:
        return None
    return info["domain"], info["ascii_domain"]


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
