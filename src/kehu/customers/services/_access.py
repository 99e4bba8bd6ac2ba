"""Row locks and role checks the customer services share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from kehu.accounts.models import Role
from kehu.core.access import is_admin, lock_editable, policy_of
from kehu.core.errors import Forbidden
from kehu.customers.models import (
    Customer,
)


def _require_editable(actor: Any, customer: Customer) -> Customer:
    """Lock the row and check the actor may edit it (403 if they only see it, else 404)."""
    return lock_editable(Customer.objects.all(), actor, pk=customer.pk)


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
