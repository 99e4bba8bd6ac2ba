"""统一社会信用代码 (unified social credit code, GB 32100-2015): clear messages and the region.

The customers app validates the field; ``explain`` says precisely what is wrong with a code
(which character at which position), and ``region_code_from_credit_code`` reads the GB/T 2260
administrative division code in characters 3–8 and maps it to a ``customers.Region`` code.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumValidationError

from kehu.customers.models import Region

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, Z, S, V
LENGTH = 18
FULL_WIDTH = {ord(c): ord(c) - 0xFEE0 for c in map(chr, range(0xFF01, 0xFF5F))}


def compact(code: str) -> str:
    """Upper case, full-width characters folded, spaces and hyphens removed."""
    return uscc.compact(str(code or "").translate(FULL_WIDTH).replace("\u3000", " "))


def explain(code: str | None) -> str | None:
    """None when ``code`` is a valid credit code, else a message naming the failing character.

    Positions are counted from 1, as printed on a business licence.
    """
    text = compact(code or "")
    if not text:
        return _("Enter the unified social credit code.")
    if len(text) != LENGTH:
        return _("The unified social credit code has %(count)d characters; it must have 18.") % {
            "count": len(text)
        }
    for index, char in enumerate(text):
        position = index + 1
        if index < 8 and not char.isdigit():
            part = (
                _("the registration authority code")
                if index == 0
                else _("the entity type code")
                if index == 1
                else _("the administrative division code (positions 3-8)")
            )
            return _(
                "Character “%(char)s” at position %(position)d must be a digit: it is part of "
                "%(part)s."
            ) % {"char": char, "position": position, "part": part}
        if char not in ALPHABET:
            return _(
                "Character “%(char)s” at position %(position)d is not allowed: the code uses "
                "digits and capital letters except I, O, Z, S and V."
            ) % {"char": char, "position": position}
    expected = uscc.calc_check_digit(text[:17])
    if text[17] != expected:
        return _(
            "The check character at position 18 is “%(char)s”, but the first 17 characters "
            "give “%(expected)s” (GB 32100): a character is mistyped."
        ) % {"char": text[17], "expected": expected}
    try:
        uscc.validate(text)
    except StdnumValidationError:
        return _("This is not a valid unified social credit code.")
    return None


def division_code(code: str | None) -> str | None:
    """The six-digit GB/T 2260 division code of a valid credit code (characters 3–8)."""
    text = compact(code or "")
    if explain(text) is not None:
        return None
    return text[2:8]


def region_code_from_credit_code(code: str | None) -> str | None:
    """The most specific ``customers.Region`` code (city, else province) the code names.

    A county code (e.g. 330106, 杭州西湖区) maps to its city (330100); a district of a
    municipality (310115) is itself a region; an unknown division maps to its province.
    """
    division = division_code(code)
    if division is None:
        return None
    candidates = [division, f"{division[:4]}00", f"{division[:2]}0000"]
    known = set(Region.objects.filter(code__in=candidates).values_list("code", flat=True))
    return next((candidate for candidate in candidates if candidate in known), None)
