"""The marketing pages under /marketing/, one module of views per area."""

from __future__ import annotations

from kehu.campaigns.views import campaigns, consent, outreach, results, segments

app_name = "campaigns"

urlpatterns = [
    *segments.urlpatterns,
    *campaigns.urlpatterns,
    *outreach.urlpatterns,
    *results.urlpatterns,
    *consent.urlpatterns,
]
