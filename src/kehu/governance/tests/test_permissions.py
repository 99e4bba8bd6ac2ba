"""The governance app's permission table, gathered from each area's own table (the cases
run in those modules); ``core/tests/test_permission_tables`` reads ``TABLE`` here."""

from __future__ import annotations

from kehu.core.testing.permissions import Endpoint
from kehu.governance.tests import test_audit_permissions as audit
from kehu.governance.tests import test_backups_permissions as backups
from kehu.governance.tests import test_requests_permissions as requests
from kehu.governance.tests import test_retention_permissions as retention

TABLE: list[Endpoint] = [*audit.TABLE, *retention.TABLE, *requests.TABLE, *backups.TABLE]
