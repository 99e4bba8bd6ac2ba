from __future__ import annotations

import sys

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from kehu.core import selectors
from kehu.core.busy import RETRY_AFTER_SECONDS, is_database_busy
from kehu.core.dashboard import panels_for
from kehu.core.http import HtmxRequest, htmx_template
from kehu.core.middleware import api_error_body, json_error


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "core/dashboard.html", {"panels": panels_for(request)})


@login_required
def record_history(request: HtmxRequest, model_label: str, object_id: int) -> HttpResponse:
    """A record's history as a page, or as a fragment when htmx loads it into a tab."""
    record = selectors.record_for_history(
        user=request.user, model_label=model_label, object_id=object_id
    )
    context = {
        "record": record,
        "entries": selectors.record_history(user=request.user, record=record),
    }
    template = htmx_template(request, "core/history.html", "core/history_fragment.html")
    return render(request, template, context)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database check for load balancers and `kehu serve` start-up."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error(404, "Not Found", "not_found")
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this handler while it handles the exception: a database busy past its
    # timeout (core.busy) is the 503 page, for a view's write and a middleware's alike
    if is_database_busy(sys.exc_info()[1]):
        return database_busy(request)
    if request.path.startswith("/api/"):
        return api_error_body(HttpResponse(status=500))
    return render(request, "500.html", status=500)


def database_busy(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: the static page (no query: the database is busy), or the
    API's JSON body."""
    if request.path.startswith("/api/"):
        response: HttpResponse = json_error(503, "Service Unavailable", "busy")
    else:
        response = render(request, "503.html", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
