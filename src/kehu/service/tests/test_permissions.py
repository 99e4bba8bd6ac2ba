"""The service app's permission table (``kehu.core.tests.test_permission_tables`` reads
``TABLE`` here): each area keeps its entries, and their cases, in its own module."""

from __future__ import annotations

from kehu.core.testing.permissions import Endpoint
from kehu.service.tests.test_sla_permissions import TABLE as SLA_TABLE

TABLE: list[Endpoint] = [*SLA_TABLE]
