"""The contracts app's pages under /contracts/, one module of views per area."""

from __future__ import annotations

from kehu.contracts.views import contracts, payments

app_name = "contracts"

urlpatterns = [
    *contracts.urlpatterns,
    *payments.urlpatterns,
]
