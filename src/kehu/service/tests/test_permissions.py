"""The service app's permission table, gathered from each area's own table (the cases run in
those modules: ``test_handovers_permissions``, ``test_tickets_permissions``,
``test_sla_permissions``, ``test_mail_permissions``, ``test_surveys_permissions``);
``core/tests/test_permission_tables`` reads ``TABLE`` here."""

from __future__ import annotations

from kehu.core.testing.permissions import Endpoint
from kehu.service.tests import test_handovers_permissions as handovers
from kehu.service.tests import test_mail_permissions as mail
from kehu.service.tests import test_sla_permissions as sla
from kehu.service.tests import test_surveys_permissions as surveys
from kehu.service.tests import test_tickets_permissions as tickets

TABLE: list[Endpoint] = [
    *handovers.TABLE,
    *tickets.TABLE,
    *sla.TABLE,
    *mail.TABLE,
    *surveys.TABLE,
]
