"""Consent pages: the public unsubscribe page (no login) reached from a message's link.

GET shows what the link unsubscribes and a confirm button, and writes nothing (mail
scanners follow links); POST records the withdrawal. Mail clients' RFC 8058 one-click POST
(``List-Unsubscribe=One-Click``) reaches the same view without a CSRF token: the view is
CSRF-exempt because the signed token is the authorisation. A forged or altered token answers
400 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kehu.campaigns.models import Channel, ConsentStatus
from kehu.campaigns.services import unsubscribe as services
from kehu.core.errors import KehuError

PAGE = "campaigns/consent/unsubscribe.html"


def _public(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'self'; frame-ancestors 'none'"
    )
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "POST":
            target = services.unsubscribe(token)
            done = True
        else:
            target = services.target_of(token)
            consent = target.consent()
            done = consent is not None and consent.status == ConsentStatus.WITHDRAWN
    except KehuError as error:
        refused = {"error": error.detail}
        return _public(render(request, PAGE, refused, status=error.status))
    context: dict[str, Any] = {
        "target": target,
        "done": done,
        "address": _hint(target.address),
        "channel": Channel(target.channel).label,
    }
    return _public(render(request, PAGE, context))


def _hint(address: str) -> str:
    """The address half hidden: enough for the person to recognise it, not to harvest it."""
    if "@" in address:
        name, _at, domain = address.partition("@")
        return f"{name[:2]}***@{domain}"
    return f"{address[:4]}****{address[-3:]}" if len(address) > 7 else "****"


urlpatterns: list[URLPattern] = [
    path("u/<str:token>/", unsubscribe_page, name="unsubscribe"),
]
