"""The service app's permission table, gathered from each area's own table (the cases run in
those modules: ``test_mail_permissions``, ...); ``core/tests/test_permission_tables``
reads ``TABLE`` here."""

from __future__ import annotations

from kehu.core.testing.permissions import Endpoint
from kehu.service.tests import test_mail_permissions as mail

TABLE: list[Endpoint] = [*mail.TABLE]
