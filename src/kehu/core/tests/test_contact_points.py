"""Phone and e-mail normalisation shared by customers, contacts, leads and imports."""

from __future__ import annotations

import pytest
from django.utils import translation

from kehu.core.contact_points import (
    email_address,
    normalize_email,
    normalize_phone,
    phone_e164,
)
from kehu.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("１３８１２３４５６７８", "+8613812345678"),  # full-width digits from a Chinese IME
        ("021-12345678", "+862112345678"),
        ("  ", ""),
        (None, ""),
    ],
)
def test_normalize_phone(typed: object, stored: str) -> None:
    assert normalize_phone(typed) == stored


def test_a_bad_phone_names_its_field_and_how_to_write_it() -> None:
    with translation.override("en"), pytest.raises(InvalidInput) as raised:
        normalize_phone("0000", field="phone")
    message = "0000 is not a valid phone number; write e.g. 13812345678 or 021-12345678."
    assert raised.value.detail == message
    assert raised.value.errors == {"phone": [message]}
    assert phone_e164("0000") is None


def test_a_long_bad_phone_is_cut_in_the_message() -> None:
    with translation.override("en"), pytest.raises(InvalidInput) as raised:
        normalize_phone("1" * 60)
    assert raised.value.errors["mobile"][0].startswith("1" * 40 + " is not")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Zhang.San@Corp.CN", "zhang.san@corp.cn"),
        ("  li@example.com ", "li@example.com"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_email_lower_cases(typed: object, stored: str) -> None:
    assert normalize_email(typed) == stored


def test_a_bad_email_names_its_field() -> None:
    with translation.override("en"), pytest.raises(InvalidInput) as raised:
        normalize_email("not-an-address", field="contact_email")
    message = "not-an-address is not a valid email address."
    assert raised.value.errors == {"contact_email": [message]}
    assert email_address("not-an-address") is None
