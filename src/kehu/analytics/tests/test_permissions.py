"""The analytics app's permission table, gathered from each area's own table (the cases run in
those modules: ``test_reports_permissions``, ``test_targets_permissions``,
``test_activity_permissions``, ``test_scores_permissions``);
``core/tests/test_permission_tables`` reads ``TABLE`` here."""

from __future__ import annotations

from kehu.analytics.tests import test_activity_permissions as activity
from kehu.analytics.tests import test_reports_permissions as reports
from kehu.analytics.tests import test_scores_permissions as scores
from kehu.analytics.tests import test_targets_permissions as targets
from kehu.core.testing.permissions import Endpoint

TABLE: list[Endpoint] = [
    *reports.TABLE,
    *targets.TABLE,
    *activity.TABLE,
    *scores.TABLE,
]
