"""The campaigns app's permission table, gathered from each area's own table (the cases run
in those modules); ``core/tests/test_permission_tables`` reads ``TABLE`` here."""

from __future__ import annotations

from kehu.campaigns.tests import test_campaigns_permissions as campaigns
from kehu.campaigns.tests import test_consent_permissions as consent
from kehu.campaigns.tests import test_outreach_permissions as outreach
from kehu.campaigns.tests import test_results_permissions as results
from kehu.campaigns.tests import test_segments_permissions as segments
from kehu.core.testing.permissions import Endpoint

TABLE: list[Endpoint] = [*segments.TABLE, *campaigns.TABLE, *outreach.TABLE, *results.TABLE]
TABLE += consent.TABLE
