"""Masked contact data for users outside a customer's full access.

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

from collections.abc import Callable, Iterable
from typing import Any

from django.utils.translation import gettext_lazy

from kehu.core import config

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

    ``contact`` is a ``Contact`` (or anything with its four attributes); the result holds its
    mobile, work phone, email and WeChat as stored, or masked when ``masked``.
    """
    values = {name: str(getattr(contact, name, "") or "") for name in CONTACT_FIELDS}
    if not masked:
        return values
    return {name: mask_contact_field(name, value) for name, value in values.items()}


REVEAL_ANCHORS = ("mobile", "work_phone", "email", "wechat")


def show_on_page(contact: Any, *, masked: bool, may_reveal: bool) -> None:
    """Attach what a page shows of ``contact``: ``shown`` (masked, or formatted phones),
    ``masked``, and ``reveal_at``, the field the "Show" button sits beside ("" for none)."""
    from kehu.customers.normalize import phone_display

    shown = contact_values(contact, masked=masked)
    if not masked:
        shown.update(
            mobile=phone_display(shown["mobile"]), work_phone=phone_display(shown["work_phone"])
        )
    contact.shown = shown
    contact.masked = masked
    anchors = [name for name in REVEAL_ANCHORS if shown[name]] if masked and may_reveal else []
    contact.reveal_at = anchors[0] if anchors else ""


def show_all_on_page(user: Any, rows: Iterable[tuple[Any, Iterable[Any]]]) -> None:
    """``show_on_page`` for each (customer, its contacts shown on the page).

    Masked per customer by the one rule; the reveal setting is read only once a masked
    contact needs it, so pages without masked contacts run no extra query.
    """
    from kehu.customers.selectors import contacts_masked

    permitted: bool | None = None
    for customer, contacts in rows:
        masked = contacts_masked(user, customer)
        for contact in contacts:
            if masked and permitted is None:
                permitted = may_reveal(user)
            show_on_page(contact, masked=masked, may_reveal=bool(permitted) and contact.is_active)


REVEAL_ROLES = config.define(
    "customers.contact_reveal_roles",
    ["sales", "service", "manager"],
    gettext_lazy(
        "Roles that may show a masked contact's phone numbers and email "
        "(sales, service, manager, marketing)"
    ),
)
REVEAL_DAILY_LIMIT = config.define(
    "customers.contact_reveal_daily_limit",
    50,
    gettext_lazy("Masked contacts one user may show per day"),
)


def may_reveal(user: Any) -> bool:
    """Whether ``user``'s role may use "show" on contacts masked for them (scope checked apart)."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return getattr(user, "role", "") in config.get("customers.contact_reveal_roles")
