"""Credit-code messages and region, masking helpers."""

from __future__ import annotations

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc

from kehu.core.masking import mask_email, mask_mobile
from kehu.customers.credit_code import ALPHABET, explain, region_code_from_credit_code

VALID = "91110000600037341L"


def _with_check(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17)


@pytest.fixture(autouse=True)
def _english() -> object:
    with translation.override("en"):
        yield


def test_valid_codes_have_no_message() -> None:
    assert explain(VALID) is None
    assert explain(" 9111 0000-6000 3734 1l ") is None
    assert explain("９１１１００００６０００３７３４１Ｌ") is None  # full-width input


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        ("", "Enter"),
        ("9111000060003734", "16 characters"),
        ("91110000600037341LX", "19 characters"),
        ("A1110000600037341L", "“A” at position 1"),
        ("9111X000600037341L", "“X” at position 5"),
        ("91110000600O37341L", "“O” at position 12"),
        ("9111000060003734IL", "“I” at position 17"),
        ("91110000600037341M", "position 18 is “M”"),
    ],
)
def test_messages_name_the_failing_character(code: str, needle: str) -> None:
    message = explain(code)
    assert message is not None
    assert needle in message


def test_check_character_message_gives_the_expected_value() -> None:
    message = explain("91110000600037341M")
    assert message is not None
    assert "“L”" in message


def test_message_is_translated() -> None:
    with translation.override("zh-hans"):
        message = explain("9111X000600037341L")
    assert message is not None
    assert "第5位" in message


@given(st.text(alphabet=ALPHABET, min_size=9, max_size=9), st.sampled_from(["110000", "310115"]))
def test_any_code_with_the_right_check_character_is_valid(tail: str, division: str) -> None:
    assert explain(_with_check(f"91{division}{tail}"[:17])) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("division", "region"),
    [
        ("310115", "310115"),  # 上海浦东新区: a district of a municipality is a region
        ("330106", "330100"),  # 杭州西湖区 → 杭州市
        ("440300", "440300"),  # 深圳市
        ("110000", "110000"),  # 北京市 itself
        ("339999", "330000"),  # unknown county in 浙江 → the province
    ],
)
def test_region_from_credit_code(division: str, region: str) -> None:
    assert region_code_from_credit_code(_with_check(f"91{division}MA1FL0000")) == region


@pytest.mark.django_db
def test_region_of_an_invalid_code_is_none() -> None:
    assert region_code_from_credit_code("91310115MA1FL0000X") is None
    assert region_code_from_credit_code(_with_check("91990000MA1FL0000")) is None


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+8613812341234", "138****1234"),
        ("13812341234", "138****1234"),
        ("0086 138 1234 1234", "138****1234"),
        ("+862112345678", "021****5678"),
        ("+14155552671", "141****2671"),
        ("12345", "****45"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_mobile(value: str | None, masked: str) -> None:
    assert mask_mobile(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("zhang.san@corp.cn", "zh***@corp.cn"),
        ("li@corp.cn", "l***@corp.cn"),
        ("a@b.cn", "a***@b.cn"),
        ("", ""),
        ("not-an-email", "n***"),
    ],
)
def test_mask_email(value: str, masked: str) -> None:
    assert mask_email(value) == masked


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_masked_mobile_never_shows_the_middle(number: str) -> None:
    masked = mask_mobile(f"+86{number}")
    assert masked == f"{number[:3]}****{number[-4:]}"
    assert number[3:7] not in masked[3:7]
