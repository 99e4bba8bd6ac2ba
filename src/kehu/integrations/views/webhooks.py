"""Pages of the integrations app: webhook subscriptions and their delivery log."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
