from django.contrib import admin
from django.urls import include, path

from kehu.api import api

handler404 = "kehu.core.views.page_not_found"
handler500 = "kehu.core.views.server_error"

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("accounts/", include("kehu.accounts.urls")),
    path("settings/", include("kehu.core.settings_urls")),
    path("customers/", include("kehu.customers.urls")),
    path("leads/", include("kehu.leads.urls")),
    path("followups/", include("kehu.followups.urls")),
    path("notifications/", include("kehu.notifications.urls")),
    path("pipeline/", include("kehu.opportunities.urls")),
    path("transfer/", include("kehu.transfer.urls")),
    path("pools/", include("kehu.pools.urls")),
    path("service/", include("kehu.service.urls")),
    path("contracts/", include("kehu.contracts.urls")),
    path("analytics/", include("kehu.analytics.urls")),
    path("marketing/", include("kehu.campaigns.urls")),
    path("integrations/", include("kehu.integrations.urls")),
    path("governance/", include("kehu.governance.urls")),
    path("", include("kehu.core.urls")),
]
