"""Pages of the campaigns app: campaigns."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
