"""Kehu as an installable web app (PWA) for reps in the field: the manifest, the service worker
and the page it shows when the network is down.

The worker caches only our static files and the offline page, never a page or an API answer:
those carry customers' personal data (PIPL), which must not stay on a phone.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

THEME_COLOUR = "#0d6efd"
# What the worker keeps for offline use: the look of the offline page, nothing else.
OFFLINE_ASSETS = (
    "vendor/bootstrap/css/bootstrap.min.css",
    "vendor/bootstrap-icons/bootstrap-icons.min.css",
    "kehu/app.css",
    "kehu/icons/icon-192.png",
)
# Bump when the worker's logic changes, so phones drop the old cache.
CACHE_VERSION = "kehu-v1"


def manifest_data() -> dict[str, object]:
    return {
        "name": "客户 Kehu",
        "short_name": "Kehu",
        "description": _("Kehu CRM: customers, leads, follow-ups and deals"),
        "lang": "zh-CN",
        "start_url": reverse("followups:my_day"),
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": "#ffffff",
        "icons": [
            {
                "src": static(f"kehu/icons/icon-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any",
            }
            for size in (192, 512)
        ]
        + [{"src": static("kehu/icons/icon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }


@require_GET
@cache_control(max_age=3600)
def manifest(request: HttpRequest) -> HttpResponse:
    body = json.dumps(manifest_data(), ensure_ascii=False, indent=1)
    return HttpResponse(body, content_type="application/manifest+json; charset=utf-8")


@require_GET
@cache_control(no_cache=True)
def service_worker(request: HttpRequest) -> HttpResponse:
    context = {
        "config": json.dumps(
            {
                "cache": CACHE_VERSION,
                "offline": reverse("core:offline"),
                "static": static(""),
                "assets": [static(path) for path in OFFLINE_ASSETS],
            }
        )
    }
    response = render(request, "core/sw.js", context, content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """A page without a user: no name, no menu, no data; safe to keep in the worker's cache."""
    return render(request, "core/offline.html", {"theme_colour": THEME_COLOUR})
