"""API plumbing shared by every router: JSON errors and the renderer.

Authentication reads users and tokens, so it lives in ``kehu.accounts.auth``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import BaseRenderer

from kehu.core.busy import RETRY_AFTER_SECONDS, is_database_busy
from kehu.core.errors import KehuError
from kehu.core.request_body import media_type_check
from kehu.core.services import invalid_input_from

logger = logging.getLogger(__name__)
UNPARSEABLE_BODY = "Cannot parse request body"  # django-ninja's message for a body it cannot parse

# The default of a PATCH field that may be left out (unchanged) but not sent as null, since its
# column is NOT NULL: ``description: str = Field(UNCHANGED, max_length=500)``. Pydantic does not
# validate defaults, so an omitted field is ``None`` (and left out of ``exclude_unset``) while an
# explicit ``null`` fails the type, and the OpenAPI document says the field is not nullable.
UNCHANGED: Any = None


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS, default=str)


def prevalidated_json(request: HttpRequest, data: Any) -> HttpResponse:
    """Answer ``data`` as JSON without running it through the operation's response schema.

    Ninja validates and copies every row of a response through its schema: ~3 ms of CPU for
    a page of 50 customers, 15 % of the list in the py-spy profile (bench/RESULTS.md). Hot
    lists whose rows are plain dicts with exactly the schema's fields (``values()``) answer
    through this instead; their tests compare those rows with the validated detail.
    """
    body = ORJSONRenderer().render(request, data, response_status=200)
    return HttpResponse(body, content_type=ORJSONRenderer.media_type)


def _error(api: NinjaAPI, request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


def _location(loc: Any) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "payload")]
    return ".".join(parts) or "__all__"


def install_request_checks(api: NinjaAPI) -> None:
    """Checks every operation runs before authentication and parsing: its body's media type."""
    api.add_decorator(media_type_check, mode="view")


def install_error_handlers(api: NinjaAPI) -> None:
    """Every failure answers ``{"detail", "code", "errors"?}`` with the right status."""

    @api.exception_handler(KehuError)
    def kehu_error(request: HttpRequest, exc: KehuError) -> HttpResponse:
        return _error(api, request, exc.status, exc.payload())

    @api.exception_handler(NinjaValidationError)
    def ninja_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors: dict[str, list[str]] = {}
        for item in exc.errors:
            errors.setdefault(_location(item.get("loc", ())), []).append(str(item.get("msg", "")))
        detail = _("The input is not valid.")
        return _error(api, request, 422, {"detail": detail, "code": "invalid", "errors": errors})

    @api.exception_handler(DjangoValidationError)
    def django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        error = invalid_input_from(exc)
        return _error(api, request, error.status, error.payload())

    @api.exception_handler(AuthenticationError)
    def not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        detail = _("Authentication required: sign in or send a valid Bearer token.")
        return _error(api, request, 401, {"detail": detail, "code": "not_authenticated"})

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _error(api, request, 404, {"detail": _("Not found."), "code": "not_found"})

    @api.exception_handler(PermissionDenied)
    def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        detail = str(exc) or _("Your role does not allow this action.")
        return _error(api, request, 403, {"detail": detail, "code": "forbidden"})

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 400 and str(exc).startswith(UNPARSEABLE_BODY):
            body = {"detail": _("The request body is not valid JSON."), "code": "malformed_json"}
            return _error(api, request, 400, body)
        code = {400: "bad_request", 403: "forbidden", 405: "method_not_allowed"}.get(
            exc.status_code, "error"
        )
        return _error(api, request, exc.status_code, {"detail": str(exc), "code": code})

    @api.exception_handler(Exception)
    def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("API error on %s %s", request.method, request.path)
        detail = _("Internal error; the request id identifies it in the server log.")
        body = {"detail": detail, "code": "server_error"}
        return _error(api, request, 500, body)


def install_busy_handler(api: NinjaAPI) -> None:
    """A database busy past its timeout (``core.busy``) answers 503 with ``Retry-After``;
    any other ``OperationalError`` stays the 500 that ``install_error_handlers`` answers."""

    @api.exception_handler(OperationalError)
    def database_busy(request: HttpRequest, exc: OperationalError) -> HttpResponse:
        if not is_database_busy(exc):
            logger.exception("API error on %s %s", request.method, request.path)
            detail = _("Internal error; the request id identifies it in the server log.")
            return _error(api, request, 500, {"detail": detail, "code": "server_error"})
        logger.warning("database busy on %s %s: %s", request.method, request.path, exc)
        detail = _("The server is busy; please try again in a moment.")
        response = _error(api, request, 503, {"detail": detail, "code": "busy"})
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
