from django.urls import URLPattern

app_name = "transfer"

urlpatterns: list[URLPattern] = []
