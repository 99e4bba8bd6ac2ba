"""The integration pages under /integrations/ (admins), one module of views per area."""

from __future__ import annotations

from kehu.integrations.views import custom_fields, webhooks

app_name = "integrations"

urlpatterns = [*webhooks.urlpatterns, *custom_fields.urlpatterns]
