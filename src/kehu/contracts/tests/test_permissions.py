"""The contracts app's permission table (contracts, reviews, payment plans and payments);
``core/tests/test_permission_tables`` reads ``TABLE`` here."""

from __future__ import annotations

from kehu.contracts.tests import test_payments_permissions as payments
from kehu.core.testing.permissions import Endpoint

TABLE: list[Endpoint] = [*payments.TABLE]
