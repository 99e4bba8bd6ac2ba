"""The UI's edge: typed requests, htmx partials, and service errors shown on forms and pages.

Every view renders service errors through these helpers, so a ``NotFound`` from a service is
the 404 page everywhere instead of a form error that would reveal the record exists.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails

from kehu.core.errors import Forbidden, KehuError, NotFound


class HtmxRequest(HttpRequest):
    """A request that passed ``django_htmx``'s middleware (every request does)."""

    htmx: HtmxDetails


def is_htmx(request: HttpRequest) -> bool:
    """True for a request htmx sent (it wants a fragment, not the whole page)."""
    return bool(getattr(request, "htmx", False))


def htmx_template(request: HttpRequest, page: str, fragment: str) -> str:
    """The fragment's template for htmx requests, the whole page's otherwise."""
    return fragment if is_htmx(request) else page


def safe_url(request: HttpRequest, url: str | None, fallback: str = "/") -> str:
    """``url`` when it stays on this site, else ``fallback`` (a path or a URL name; "" is
    returned as is).

    The one check of every redirect to a URL the request brought (``next``, a stored link):
    Django's ``url_has_allowed_host_and_scheme`` refuses other hosts and schemes and the
    spellings browsers read as one (``//evil.example``, ``https:evil.example``,
    ``/\\evil.example``, control characters); over HTTPS it refuses a step down to HTTP.
    """
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(fallback) if fallback else ""


def raise_not_found(error: KehuError) -> None:
    if isinstance(error, NotFound):
        raise Http404(error.what) from error


def raise_refusal(error: KehuError) -> None:
    """A refusal is not a form error: ``NotFound`` is the 404 page, a ``Forbidden`` of the
    whole action (no per-field errors: the role may not do this) the 403 page."""
    raise_not_found(error)
    if isinstance(error, Forbidden) and not error.errors:
        raise PermissionDenied(error.detail) from error


def error_message(error: KehuError) -> str:
    """One line for a flash message: the detail, then any per-field messages that differ."""
    raise_refusal(error)
    details = [message for messages in error.errors.values() for message in messages]
    return " ".join([error.detail, *[d for d in details if d != error.detail]])


def form_errors(
    form: forms.BaseForm, error: KehuError, mapping: dict[str, str] | None = None
) -> None:
    """Put a service error on the form: per field where the field exists, else on top.

    ``mapping`` renames service field names to the form's where the two differ.
    """
    raise_not_found(error)
    if not error.errors:
        form.add_error(None, error.detail)
        return
    for name, problems in error.errors.items():
        target = (mapping or {}).get(name, name)
        form.add_error(target if target in form.fields else None, problems)
