from django.urls import URLPattern

from kehu.analytics.views import reports, targets

app_name = "analytics"

urlpatterns: list[URLPattern] = [
    *reports.urlpatterns,
    *targets.urlpatterns,
]
