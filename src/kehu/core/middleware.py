"""Request-wide middleware: request ids, security headers, JSON errors under /api/, a
service's ``NotFound`` as the 404 page, and no shared or stored copies of signed-in answers."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control

from kehu.core.context import acting_context, new_request_id, read_only_request
from kehu.core.errors import NotFound

Handler = Callable[[HttpRequest], HttpResponse]

API_PREFIX = "/api/"

# Our own scripts and styles only; htmx needs no eval as long as templates avoid hx-on.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
    ]
)


class RequestIdMiddleware:
    """Give each request an id (or take a proxy's X-Request-ID) for history rows and logs."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming[:40] if incoming.isascii() and incoming else new_request_id()
        # REMOTE_ADDR is the TLS proxy's own address unless the proxy sets it (docs/operations.md).
        with acting_context(request_id, request.META.get("REMOTE_ADDR", "")):
            request.request_id = request_id  # type: ignore[attr-defined]
            if request.method in ("GET", "HEAD"):
                with read_only_request():
                    response = self.get_response(request)
            else:
                response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


def json_error(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
}


def api_error_body(response: HttpResponse) -> HttpResponse:
    """Turn a non-JSON error answer (router 404, 405, CSRF 403…) into the API's JSON shape."""
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    status = response.status_code
    detail = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    replacement = json_error(status, detail, ERROR_CODES.get(status, "error"))
    if "Allow" in response:
        replacement["Allow"] = response["Allow"]
    return replacement


class ApiJsonErrorsMiddleware:
    """Nothing under /api/ ever answers with an HTML error page."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX) and response.status_code >= 400:
            return api_error_body(response)
        return response


class NotFoundPageMiddleware:
    """A ``NotFound`` that a view lets through is Django's 404, never a 500.

    Services raise ``NotFound`` for a record that is missing or out of the user's scope; a view
    that shows service errors turns it into ``Http404`` itself (``kehu.core.http``), and one that
    does not lets it reach this hook. The API answers it in its own handler (``core.api``).
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, NotFound):
            # Raised here, Django's handler renders it as any Http404 (handler404, DEBUG page).
            raise Http404(exception.what) from exception


class PrivateCacheMiddleware:
    """``Cache-Control: private, no-store`` on every answer to a signed-in user.

    Pages and API answers for a user hold personal data (names, phone numbers, the sales
    conversation): ``private`` keeps proxies and CDNs from storing them for others, and
    ``no-store`` keeps the browser from writing them to its disk cache, where the next user
    of a shared computer (a branch office's PC) could open them from history. ``no-cache``
    would still store them. A view that chose its own caching keeps it, made private (the
    calendar feed's ``private, max-age=300``). Session users are known here; API clients by
    their ``Authorization`` header, since the API authenticates inside the view.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = bool(user is not None and user.is_authenticated)
        if signed_in or "HTTP_AUTHORIZATION" in request.META:
            if response.has_header("Cache-Control"):
                patch_cache_control(response, private=True)
            else:
                patch_cache_control(response, private=True, no_store=True)
        return response
