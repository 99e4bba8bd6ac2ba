"""The one formatting helper: money, percentages and dates as a Chinese sales team reads them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from kehu.core import formatting


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (21716000, "¥21,716,000"),
        (Decimal("50000.00"), "¥50,000"),
        (Decimal("1234.5"), "¥1,234.50"),
        (Decimal("1234.56"), "¥1,234.56"),
        (Decimal("0.004"), "¥0"),
        (Decimal("0.005"), "¥0.01"),
        (0, "¥0"),
        (-1200, "-¥1,200"),
        (Decimal("-0.5"), "-¥0.50"),
        (9_999_999_999, "¥9,999,999,999"),
        ("875000", "¥875,000"),
        (875000.0, "¥875,000"),
        (None, "—"),
        ("", "—"),
        ("abc", "—"),
        (float("nan"), "—"),
    ],
)
def test_money_in_yuan(value: object, expected: str) -> None:
    assert formatting.money(value) == expected


def test_money_rounds_cents_away_where_asked() -> None:
    assert formatting.money(Decimal("1234.56"), cents=False) == "¥1,235"


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (1200, "USD", "USD 1,200"),
        (Decimal("99.5"), "eur", "EUR 99.50"),
        (-1200, "USD", "-USD 1,200"),
        (1200, None, "¥1,200"),
        (1200, "CNY", "¥1,200"),
    ],
)
def test_money_names_a_currency_only_when_it_is_not_cny(
    value: object, currency: str | None, expected: str
) -> None:
    assert formatting.money(value, currency) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (21716000, "2,171.6万"),
        (10000, "1.0万"),
        (99950, "10.0万"),  # half up, never banker's rounding
        (99449, "9.9万"),
        (9_999_999_999, "1,000,000.0万"),
        (9999, "¥9,999"),  # under 1万 the amount reads better in yuan
        (Decimal("9999.99"), "¥10,000"),
        (0, "¥0"),
        (-21716000, "-2,171.6万"),
        (None, "—"),
    ],
)
def test_money_in_wan_where_space_is_short(value: object, expected: str) -> None:
    assert formatting.money(value, unit="wan", cents=False) == expected


def test_money_in_wan_keeps_a_foreign_code() -> None:
    assert formatting.money(1_500_000, "USD", unit="wan") == "USD 150.0万"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(25, "25.0%"), (Decimal("33.333"), "33.3%"), (0, "0.0%"), (100, "100.0%"), (-5, "-5.0%")],
)
def test_percent_has_one_decimal(value: object, expected: str) -> None:
    assert formatting.percent(value) == expected
    assert formatting.percent(None) == "—"


def test_number_is_grouped() -> None:
    assert formatting.number(1234567) == "1,234,567"
    assert formatting.number(-1234) == "-1,234"
    assert formatting.number(None) == "—"


def test_dates() -> None:
    sunday = date(2026, 12, 6)
    assert formatting.iso_date(sunday) == "2026-12-06"
    assert formatting.iso_date(None) == "—"
    # a late-evening UTC instant is already the next day in Shanghai
    instant = datetime(2026, 12, 5, 17, 0, tzinfo=ZoneInfo("UTC"))
    assert formatting.iso_date(instant) == "2026-12-06"
    with translation.override("zh-hans"):
        assert formatting.day_label(sunday) == "12月6日 周日"
        assert formatting.day_label(date(2026, 1, 12)) == "1月12日 周一"
    with translation.override("en"):
        assert formatting.day_label(sunday) == "Sun 6 Dec"
    assert formatting.day_label(None) == "—"


def test_money_unit_of_a_user() -> None:
    class Someone:
        money_unit = "wan"

    assert formatting.money_unit_of(Someone()) == "wan"
    assert formatting.money_unit_of(None) == "yuan"


def test_template_filters() -> None:
    class Someone:
        money_unit = "wan"

    template = Template(
        "{% load kehu_format %}{{ a|money }}|{{ a|money:'USD' }}|{% money_short a %}|"
        "{{ p|percent }}|{{ d|iso_date }}"
    )
    text = template.render(
        Context({"a": Decimal("21716000.00"), "p": 25, "d": date(2026, 12, 6), "user": Someone()})
    )
    assert text == "¥21,716,000|USD 21,716,000|2,171.6万|25.0%|2026-12-06"


def test_choice_label_follows_the_active_language() -> None:
    from django.db import models
    from django.utils import translation

    from kehu.core.formatting import choice_label

    class Colour(models.TextChoices):
        RED = "red", "Red"

    assert choice_label(Colour, "red") == "Red"
    assert choice_label(Colour, "blue") == "blue"  # an unknown value answers itself
    with translation.override("zh-hans"):
        assert choice_label(Colour, "red") == "Red"  # no catalogue entry: the source text
