"""Request bodies refused before any code reads them, so that none of these is a 500:

- too large (``KEHU_MAX_REQUEST_BODY_MB``: Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``, which
  bounds a JSON or form body and the non-file fields of a multipart one), too many fields or
  files: 413;
- a multipart body Django cannot parse (no boundary, a broken one): 400;
- under /api/, a media type the operation does not take (multipart sent to a JSON body): 415,
  checked by ``media_type_check``, which ``kehu.core.api.install_request_checks`` puts in front
  of every operation.

The API answers with its JSON error body, the pages with a 4xx page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.translation import gettext as _
from ninja.params.models import BodyModel, FileModel, FormModel, _MultiPartBodyModel

from kehu.core.middleware import API_PREFIX, json_error

Handler = Callable[[HttpRequest], HttpResponse]

JSON = "application/json"
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    detail: str


def has_body(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return False


def body_refusal(request: HttpRequest) -> Refusal | None:
    """Read (and, for forms, parse) the body once; what makes it unacceptable, if anything."""
    if not has_body(request):
        return None
    try:
        if request.method == "POST" and request.content_type in (MULTIPART, URLENCODED):
            request.POST  # noqa: B018 - parses the form and its files, bounded by Django's limits
        else:
            request.body  # noqa: B018 - raises RequestDataTooBig before reading an oversized body
    except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
        detail = _("The request is too large: at most %(mb)s MB of data in %(fields)s fields.") % {
            "mb": settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024),
            "fields": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        }
        return Refusal(413, "too_large", detail)
    except MultiPartParserError:
        detail = _("The multipart body cannot be read: its boundary is missing or malformed.")
        return Refusal(400, "malformed_multipart", detail)
    return None


def refusal_response(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    wants_json = "json" in request.headers.get("Accept", "")  # the public web form's clients
    if request.path.startswith(API_PREFIX) or wants_json:
        return json_error(refusal.status, refusal.detail, refusal.code)
    context = {"detail": refusal.detail}
    return render(request, "request_refused.html", context, status=refusal.status)


class RequestBodyMiddleware:
    """Refuse an unreadable or oversized body before a view, the CSRF check or Ninja reads it."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = body_refusal(request)
        if refusal is not None:
            return refusal_response(request, refusal)
        return self.get_response(request)


def accepted_media_types(operation: Any) -> frozenset[str]:
    """The body media types a Ninja operation reads; empty when it reads no body."""
    models = getattr(operation, "models", ())
    if any(issubclass(m, FileModel | _MultiPartBodyModel) for m in models):
        return frozenset({MULTIPART})
    if any(issubclass(m, FormModel) for m in models):
        return frozenset({MULTIPART, URLENCODED})
    if any(issubclass(m, BodyModel) for m in models):
        return frozenset({JSON})
    return frozenset()


def media_type_check(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap an operation's ``run`` (Ninja's "view" decorator mode: before authentication and
    parsing) so that a body of another media type than it reads answers 415."""
    operation = getattr(run, "__self__", None)
    accepted = accepted_media_types(operation)
    if not accepted:
        return run

    @wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if has_body(request) and request.content_type not in accepted:
            if not _authenticates(operation, request):
                # Credentials come first (401, or the CSRF 403): the operation's own check
                # answers before it reads the body.
                return run(request, *args, **kwargs)
            detail = _("This endpoint takes a body of type %(types)s.") % {
                "types": ", ".join(sorted(accepted))
            }
            return json_error(415, detail, "unsupported_media_type")
        return run(request, *args, **kwargs)

    return checked


def _authenticates(operation: Any, request: HttpRequest) -> bool:
    """Whether one of the operation's authentication callbacks accepts the request."""
    callbacks = getattr(operation, "auth_callbacks", None) or []
    if not callbacks:
        return True  # a public operation
    for callback in callbacks:
        try:
            if callback(request):
                return True
        except Exception:  # a refusal (CSRF, bad token) is the operation's to answer
            continue
    return False
