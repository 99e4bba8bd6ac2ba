from django.urls import URLPattern

from kehu.analytics.views import reports, scores

app_name = "analytics"

urlpatterns: list[URLPattern] = [
    *reports.urlpatterns,
    *scores.urlpatterns,
]
