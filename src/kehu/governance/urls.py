"""The governance pages under /governance/ (admins), one module of views per area."""

from __future__ import annotations

from kehu.governance.views import audit, backups, requests, retention

app_name = "governance"

urlpatterns = [
    *audit.urlpatterns,
    *retention.urlpatterns,
    *requests.urlpatterns,
    *backups.urlpatterns,
]
