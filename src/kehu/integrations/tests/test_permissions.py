"""The integrations app's permission table, gathered from each area's own table (the cases
run in those modules); ``core/tests/test_permission_tables`` reads ``TABLE`` here."""

from __future__ import annotations

from kehu.core.testing.permissions import Endpoint
from kehu.integrations.tests import test_custom_fields_permissions as custom_fields
from kehu.integrations.tests import test_external_permissions as external
from kehu.integrations.tests import test_webhooks_permissions as webhooks

TABLE: list[Endpoint] = [*webhooks.TABLE, *external.TABLE, *custom_fields.TABLE]
