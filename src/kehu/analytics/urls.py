from django.urls import URLPattern

from kehu.analytics.views import reports, review

app_name = "analytics"

urlpatterns: list[URLPattern] = [
    *reports.urlpatterns,
    *review.urlpatterns,
]
