"""The service app's pages under /service/, one module of views per area."""

from __future__ import annotations

from kehu.service.views import handovers, mail, reports, sla, surveys, tickets

app_name = "service"

urlpatterns = [
    *handovers.urlpatterns,
    *tickets.urlpatterns,
    *sla.urlpatterns,
    *mail.urlpatterns,
    *surveys.urlpatterns,
    *reports.urlpatterns,
]
