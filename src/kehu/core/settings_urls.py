from django.urls import path

from kehu.core import settings_views

app_name = "settings"

urlpatterns = [
    path("", settings_views.index, name="index"),
    path("history/", settings_views.history, name="history"),
    path("<str:key>/", settings_views.edit, name="edit"),
    path("<str:key>/reset/", settings_views.reset, name="reset"),
]
