"""Masked contact data for users outside a customer's full access.

``mask_mobile("+8613812341234") == "138****1234"`` and
``mask_email("zhang.san@corp.cn") == "zh***@corp.cn"``: enough to recognise a number or an
address, not enough to call or write. The customers app applies these for users without full
access; the audited "show" action (``POST /api/v1/pools/reveal/contact/{id}``) reveals them.
"""

from __future__ import annotations

MASK = "****"


def _national_digits(value: str) -> str:
    text = value.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("+"):
        if digits.startswith("86"):
            national = digits[2:]
            # A Chinese landline is written with its trunk prefix 0 (021…); mobiles start with 1.
            return national if national.startswith("1") else f"0{national}"
        return digits
    if digits.startswith("0086"):
        return _national_digits(f"+{digits[2:]}")
    return digits


def mask_mobile(value: str | None) -> str:
    """Keep the first three and last four digits of a phone number: 138****1234."""
    if not value:
        return ""
    digits = _national_digits(value)
    if not digits:
        return MASK
    if len(digits) >= 8:
        return f"{digits[:3]}{MASK}{digits[-4:]}"
    if len(digits) >= 3:
        return f"{MASK}{digits[-2:]}"
    return MASK


def mask_email(value: str | None) -> str:
    """Keep two characters of the local part and the domain: zh***@corp.cn."""
    if not value:
        return ""
    local, at, domain = value.strip().rpartition("@")
    if not at:
        return f"{value.strip()[:1]}***"
    keep = 2 if len(local) > 2 else 1
    return f"{local[:keep]}***@{domain}"
