from django.urls import URLPattern

from kehu.analytics.views import reports, review, scores, targets

app_name = "analytics"

urlpatterns: list[URLPattern] = [
    *reports.urlpatterns,
    *review.urlpatterns,
    *targets.urlpatterns,
    *scores.urlpatterns,
]
