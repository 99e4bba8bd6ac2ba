"""Masked contact data for users outside a customer's full access: the masking helpers.

``mask_mobile("+8613812341234") == "138****1234"``,
``mask_email("zhang.san@corp.cn") == "zh***@corp.cn"`` and ``mask_wechat("wxid_zs88") ==
"wx***8"``: enough to recognise a number or an address, not enough to call or write.

Who sees masked values: everyone without full access to the customer (``AccessPolicy.
has_full_access``: owner, a manager above the customer's department, admin), i.e. sharees,
marketing, service and pool members. Every read path goes through ``contact_values`` (via
``kehu.customers.selectors.contacts_masked``): the API, the customer pages, change history
and exports. Permitted roles (setting ``customers.contact_reveal_roles``) may "show" a
contact once its values are masked for them; each show is logged (``RevealLog``) and counted
against a daily limit (``customers.contact_reveal_daily_limit``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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


def mask_wechat(value: str | None) -> str:
    """Keep the first two characters and the last one of a WeChat id: wx***8."""
    if not value:
        return ""
    text = value.strip()
    if len(text) <= 3:
        return f"{text[:1]}***"
    return f"{text[:2]}***{text[-1]}"


CONTACT_FIELDS = ("mobile", "work_phone", "email", "wechat")
_MASKERS: dict[str, Callable[[str | None], str]] = {
    "mobile": mask_mobile,
    "work_phone": mask_mobile,
    "email": mask_email,
    "wechat": mask_wechat,
}


def mask_contact_field(name: str, value: Any) -> Any:
    """``value`` of the contact field ``name`` masked; other fields pass unchanged."""
    masker = _MASKERS.get(name)
    if masker is None or value is None:
        return value
    return masker(str(value))


def contact_values(contact: Any, *, masked: bool) -> dict[str, str]:
    """The one masking rule of every read path (API, pages, history, exports).

    ``contact`` is a ``Contact`` (or anything with its four attributes, or a row of them: a
    mapping); the result holds its mobile, work phone, email and WeChat as stored, or masked
    when ``masked``.
    """
    if isinstance(contact, Mapping):
        values = {name: str(contact.get(name) or "") for name in CONTACT_FIELDS}
    else:
        values = {name: str(getattr(contact, name, "") or "") for name in CONTACT_FIELDS}
    if not masked:
        return values
    return {name: mask_contact_field(name, value) for name, value in values.items()}
