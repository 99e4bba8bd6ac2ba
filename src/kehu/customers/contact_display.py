"""What a page shows of a contact: masked values, formatted phones and the "Show" button.

Who sees masked values is ``customers.selectors.contacts_masked`` (the access policy's full
access); how a value is masked is ``kehu.core.masking``. Permitted roles (setting
``customers.contact_reveal_roles``) may "show" a contact masked for them; the reveal itself,
its log and its daily limit are the pools app's (``pools.services.reveal``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext_lazy

from kehu.core import config
from kehu.core.masking import contact_values
from kehu.customers.normalize import phone_display
from kehu.customers.selectors import contacts_masked

REVEAL_ANCHORS = ("mobile", "work_phone", "email", "wechat")


def show_on_page(contact: Any, *, masked: bool, may_reveal: bool) -> None:
    """Attach what a page shows of ``contact``: ``shown`` (masked, or formatted phones),
    ``masked``, and ``reveal_at``, the field the "Show" button sits beside ("" for none)."""
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
    group="pools",
    choices=config.ROLES,
    help=gettext_lazy(
        "Roles that may press “show” on a contact whose numbers are masked for them (always "
        "within their scope, counted in the daily limit)."
    ),
)
REVEAL_DAILY_LIMIT = config.define(
    "customers.contact_reveal_daily_limit",
    50,
    gettext_lazy("Masked contacts one user may show per day"),
    group="pools",
    unit=gettext_lazy("contacts per day"),
    minimum=0,
    maximum=10000,
    help=gettext_lazy(
        "How many masked contacts one user may show per day; 0 allows none. Protects the customer "
        "base from being copied out."
    ),
)


def may_reveal(user: Any) -> bool:
    """Whether ``user``'s role may use "show" on contacts masked for them (scope checked apart)."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return getattr(user, "role", "") in config.get("customers.contact_reveal_roles")
