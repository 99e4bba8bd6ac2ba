"""Pages of the campaigns app: outreach."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
