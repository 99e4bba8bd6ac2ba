"""Row locks and role checks the customer services share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from kehu.accounts.models import Role
from kehu.core.access import is_admin, policy_of
from kehu.core.errors import Forbidden, NotFound
from kehu.customers.models import (
    Customer,
)


def _require_editable(actor: Any, customer: Customer) -> Customer:
    """Lock the row and check the actor may edit it (404 otherwise, like every scope miss)."""
    locked = (
        Customer.objects.select_for_update()
        .filter(pk=customer.pk)
        .filter(policy_of(Customer).edit_filter(actor))
        .first()
    )
    if locked is None:
        raise NotFound("customer")
    return locked


def _require_manager(actor: Any) -> None:
    if not (is_admin(actor) or getattr(actor, "role", "") == Role.MANAGER):
        raise Forbidden(_("Only managers and CRM administrators may do this."))


def _check_masked(actor: Any, customer: Customer, names: Iterable[str]) -> None:
    hidden = policy_of(Customer).masked_fields(actor, customer)
    blocked = sorted(hidden & set(names))
    if blocked:
        raise Forbidden(
            _("You may not change these sensitive fields: %(fields)s.")
            % {"fields": ", ".join(blocked)}
        )
