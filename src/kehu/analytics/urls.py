from django.urls import URLPattern

from kehu.analytics.views import reports

app_name = "analytics"

urlpatterns: list[URLPattern] = [
    *reports.urlpatterns,
]
