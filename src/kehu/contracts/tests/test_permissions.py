"""The contracts app's permission table (contracts, reviews, payment plans and payments),
gathered from each area's own table (the cases run in those modules:
``test_contracts_permissions``, ``test_payments_permissions``);
``core/tests/test_permission_tables`` reads ``TABLE`` here."""

from __future__ import annotations

from kehu.contracts.tests import test_contracts_permissions as contracts
from kehu.contracts.tests import test_payments_permissions as payments
from kehu.core.testing.permissions import Endpoint

TABLE: list[Endpoint] = [*contracts.TABLE, *payments.TABLE]
