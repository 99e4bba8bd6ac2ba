"""Consent pages: recording a contact's consent from the customer page's consent card, the
CSV/XLSX upload of consents, and the public unsubscribe page (no login) reached from a
message's link.

The unsubscribe page:

GET shows what the link unsubscribes and a confirm button, and writes nothing (mail
scanners follow links); POST records the withdrawal. Mail clients' RFC 8058 one-click POST
(``List-Unsubscribe=One-Click``) reaches the same view without a CSRF token: the view is
CSRF-exempt because the signed token is the authorisation. A forged or altered token answers
400 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kehu.accounts.http import AuthedRequest
from kehu.campaigns.models import Channel, ConsentSource, ConsentStatus
from kehu.campaigns.sections import CONSENT_SECTION, customer_consent
from kehu.campaigns.services import consent as consent_services
from kehu.campaigns.services import consent_bulk
from kehu.campaigns.services import unsubscribe as services
from kehu.core.errors import KehuError
from kehu.core.http import error_message, is_htmx, raise_refusal

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


# --- Staff: the customer page's consent card ---------------------------------------------------


@login_required
@require_http_methods(["POST"])
def consent_record(request: AuthedRequest, contact_id: int) -> HttpResponse:
    """Record a contact's consent on one channel (source: staff, with the note)."""
    user = request.user
    contact = (
        consent_services.visible_contacts(user)
        .select_related("customer")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise Http404("contact")
    error = ""
    try:
        consent_services.consent_record(
            user,
            contact=contact,
            channel=request.POST.get("channel", ""),
            status=request.POST.get("status", ""),
            source=ConsentSource.STAFF,
            note=request.POST.get("note", ""),
        )
    except KehuError as refused:
        error = error_message(refused)
    if is_htmx(request):
        context = customer_consent(contact.customer, user) or {}
        context.update(customer=contact.customer, error=error)
        return render(request, CONSENT_SECTION.template, context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Consent recorded."))
    url = reverse("customers:detail", args=[contact.customer_id])
    return redirect(f"{url}?tab=profile#section-consent")


# --- Staff: the upload -------------------------------------------------------------------------

IMPORT_PAGE = "campaigns/consent/import.html"
IMPORT_SOURCES = [
    (value, label)
    for value, label in ConsentSource.choices
    if value not in consent_services.PERSON_SOURCES
]


@login_required
@require_http_methods(["GET", "POST"])
def consent_import(request: AuthedRequest) -> HttpResponse:
    """Upload a CSV/XLSX of e-mails or mobiles with channel, status and source; the page
    answers one line per row (recorded, unchanged, or the errors)."""
    context: dict[str, Any] = {
        "sources": IMPORT_SOURCES,
        "source": ConsentSource.IMPORT,
        "columns": consent_bulk.COLUMNS,
        "channels": Channel.values,
        "statuses": ConsentStatus.values,
    }
    if request.method == "GET":
        return render(request, IMPORT_PAGE, context)
    source = request.POST.get("source") or ConsentSource.IMPORT
    context["source"] = source
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise consent_bulk._error("file", _("Choose a file."))
        rows = consent_bulk.read_upload(upload)
        result = consent_bulk.consents_record_bulk(
            actor=request.user, rows=rows, default_source=source
        )
    except KehuError as error:
        raise_refusal(error)
        context["error"] = error_message(error)
        return render(request, IMPORT_PAGE, context, status=error.status)
    for row in result.rows:
        row.row += 1  # the file's line number
    context.update(
        result=result,
        recorded=result.count("recorded"),
        unchanged=result.count("unchanged"),
        failed=result.count("error"),
    )
    return render(request, IMPORT_PAGE, context)


urlpatterns: list[URLPattern] = [
    path("u/<str:token>/", unsubscribe_page, name="unsubscribe"),
    path("consents/contact/<int:contact_id>/", consent_record, name="consent_record"),
    path("consents/import/", consent_import, name="consent_import"),
]
