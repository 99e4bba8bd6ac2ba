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


def _library_answer(text: str) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    text = text.strip()
    if not text:
        return None
    try:
        return str(validate_email(text, check_deliverability=False).normalized).lower()
    except EmailNotValidError:
        return None


EMAIL_CASES = [
    "a@b.cn",
    "Wang.Li@Example.COM",
    "c0-17@erp1234.example.cn",
    "  padded@example.com  ",
    "user+tag@sub.domain.example.org",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@example..com",
    "a@-example.com",
    "a@example-.com",
    "a@example",
    "a@localhost",
    "a@example.local",
    "a@example.test",
    "a@example.invalid",
    "a@123.123.123.123",
    "a@[192.168.0.1]",
    "a@[IPv6:::1]",
    "@example.com",
    "a@",
    "a",
    "a@@example.com",
    "a b@example.com",
    '"a b"@example.com',
    '"ab"@example.com',
    "王经理@例子.中国",
    "用户@example.com",
    "a@xn--fsqu00a.xn--fiqs8s",
    "a@XN--FSQU00A.XN--FIQS8S",
    "a@xn--abc.com",
    "Postmaster@Example.com",
    "ABUSE@example.com",
    "a\u0301@example.com",  # decomposed accent: NFC changes the local part
    "a@e\u0301xample.com",
    "a@ｅｘａｍｐｌｅ.com",  # full-width domain
    "王<a@example.com>",
    "Wang <a@example.com>",
    "a@example.com.",
    "a@" + "x" * 64 + ".com",
    "a@" + "x" * 63 + ".com",
    "x" * 65 + "@example.com",
    "x" * 64 + "@example.com",
    "a@" + ".".join(["y" * 60] * 5) + ".com",
    "x" * 60 + "@" + ".".join(["y" * 60] * 3) + ".com",
    "a@example.c",
    "a@example.123",
    "a@例子.测试",
    "a\u200b@example.com",
    "a@exa\u200bmple.com",
    "a@ex_ample.com",
    "a!#$%&'*+/=?^_`{|}~-@example.com",
    "a@example.com\n",
    "a\n@example.com",
]


@pytest.mark.parametrize("typed", EMAIL_CASES)
def test_email_address_answers_as_the_library(typed: str) -> None:
    """The step-by-step check with the domain remembered answers as ``validate_email``,
    also the second time a domain comes (from the cache)."""
    assert email_address.__wrapped__(typed) == _library_answer(typed)
    assert email_address.__wrapped__(typed) == _library_answer(typed)
    local = typed.strip().rpartition("@")[2]
    other = "zz@" + local
    assert email_address.__wrapped__(other) == _library_answer(other)
