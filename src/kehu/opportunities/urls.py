from django.urls import URLPattern

app_name = "opportunities"

urlpatterns: list[URLPattern] = []
