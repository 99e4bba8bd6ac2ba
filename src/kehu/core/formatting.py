"""Money, percentages and dates as a Chinese sales team reads them: the one place that decides.

Templates use the filters of ``kehu.core.templatetags.kehu_format``, charts the JS twin
``static/kehu/format.js`` (same rules, tested against the same cases), exports keep numbers as
numbers (``transfer/exporting.py``: XLSX shows them with the ``#,##0`` number format).

- ``money(21716000)`` → ``¥21,716,000``; cents only when there are some (``¥1,234.50``);
  ``-¥1,200`` for a negative amount; ``—`` for none.
- another currency is written with its ISO code first: ``USD 1,200`` (one rule for every code,
  where ``US$`` would need a table of symbols and still read ambiguously beside ``¥`` for JPY).
- ``money(..., unit="wan")`` where space is short and the user chose 万元 on their profile:
  ``2,171.6万`` (one decimal, half up); amounts under 10,000 stay in yuan (``¥8,750``), as
  ``0.9万`` reads worse than the amount itself.
- ``percent(25)`` → ``25.0%`` (input in percent points, as stage probabilities are stored).
- ``iso_date`` → ``2026-12-06``; ``day_label`` → ``12月6日 周日`` / ``Sun 6 Dec`` where the
  weekday helps (my day, the calendar, due dates).
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final, Literal

from django.db import models
from django.utils import timezone
from django.utils.translation import get_language, pgettext, pgettext_lazy

MoneyUnit = Literal["yuan", "wan"]
YUAN: Final = "yuan"
WAN: Final = "wan"
HOME_CURRENCY: Final = "CNY"
# Exports keep amounts as numbers; XLSX shows them grouped, cents only when there are some.
XLSX_AMOUNT: Final = "#,##0"
XLSX_AMOUNT_CENTS: Final = "#,##0.00"
EMPTY: Final = "—"

_WAN = Decimal(10000)
_ONE = Decimal(1)
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")

WEEKDAYS: Final = (
    pgettext_lazy("weekday", "Mon"),
    pgettext_lazy("weekday", "Tue"),
    pgettext_lazy("weekday", "Wed"),
    pgettext_lazy("weekday", "Thu"),
    pgettext_lazy("weekday", "Fri"),
    pgettext_lazy("weekday", "Sat"),
    pgettext_lazy("weekday", "Sun"),
)
MONTHS: Final = (
    pgettext_lazy("month", "Jan"),
    pgettext_lazy("month", "Feb"),
    pgettext_lazy("month", "Mar"),
    pgettext_lazy("month", "Apr"),
    pgettext_lazy("month", "May"),
    pgettext_lazy("month", "Jun"),
    pgettext_lazy("month", "Jul"),
    pgettext_lazy("month", "Aug"),
    pgettext_lazy("month", "Sep"),
    pgettext_lazy("month", "Oct"),
    pgettext_lazy("month", "Nov"),
    pgettext_lazy("month", "Dec"),
)


def to_decimal(value: object) -> Decimal | None:
    """A number of any kind (Decimal, int, float, numeric text) as a Decimal; None if it is
    none, not a number, or not finite."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def grouped(number: Decimal, places: int) -> str:
    """``number`` rounded half up to ``places`` decimals, thousands grouped with commas."""
    exponent = _ONE if places == 0 else Decimal(1).scaleb(-places)
    rounded = number.quantize(exponent, rounding=ROUND_HALF_UP)
    return f"{abs(rounded):,.{places}f}"


def money(
    value: object, currency: str | None = HOME_CURRENCY, *, unit: str = YUAN, cents: bool = True
) -> str:
    """An amount as people read it (module docstring); ``cents=False`` rounds to the yuan."""
    number = to_decimal(value)
    if number is None:
        return EMPTY
    code = (currency or HOME_CURRENCY).upper()
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    if unit == WAN and magnitude >= _WAN:
        text = grouped(magnitude / _WAN, 1) + "万"  # the user chose 万元, in either language
        return sign + (text if code == HOME_CURRENCY else f"{code} {text}")
    has_cents = cents and magnitude.quantize(_CENT, rounding=ROUND_HALF_UP) % 1 != 0
    text = grouped(magnitude, 2 if has_cents else 0)
    return sign + ("¥" + text if code == HOME_CURRENCY else f"{code} {text}")


def number(value: object, places: int = 0) -> str:
    """A plain count or quantity, grouped (``12,345``); ``—`` for none."""
    parsed = to_decimal(value)
    if parsed is None:
        return EMPTY
    return ("-" if parsed < 0 else "") + grouped(abs(parsed), places)


def percent(value: object, places: int = 1) -> str:
    """Percent points with one decimal: ``25`` → ``25.0%``; ``—`` for none."""
    parsed = to_decimal(value)
    if parsed is None:
        return EMPTY
    return number(parsed, places) + "%"


def _local_day(value: date | datetime | None) -> date | None:
    """The calendar day of ``value``; a timestamp's in the installation's time zone."""
    if isinstance(value, datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    return value


def iso_date(value: date | datetime | None) -> str:
    """``2026-12-06``; a timestamp in the installation's time zone."""
    day = _local_day(value)
    return EMPTY if day is None else day.isoformat()


def day_label(value: date | datetime | None) -> str:
    """``12月6日 周日`` in Chinese, ``Sun 6 Dec`` in English: a day whose weekday matters."""
    day = _local_day(value)
    if day is None:
        return EMPTY
    return pgettext("day label: weekday, day, month", "%(weekday)s %(day)s %(month)s") % {
        "weekday": WEEKDAYS[day.weekday()],
        "day": day.day,
        "month": MONTHS[day.month - 1],
    }


def money_unit_of(user: object) -> str:
    """The user's choice for short places (元 or 万元); yuan for anyone without one."""
    unit = getattr(user, "money_unit", YUAN)
    return WAN if unit == WAN else YUAN


@functools.lru_cache(maxsize=256)
def _choice_labels(choices: type[models.Choices], language: str) -> dict[str, str]:
    return {str(value): str(label) for value, label in choices.choices}


def choice_label(choices: type[models.Choices], value: str) -> str:
    """The label of ``value`` among ``choices`` in the active language.

    ``get_FOO_display()`` rebuilds the field's choices as a dict on every call (hashing each
    lazy label): three labels per ticket were 11 of 16 ms of serialising a 50-ticket page.
    """
    return _choice_labels(choices, get_language() or "").get(value, value)
