"""Errors raised by services; the API and the UI turn them into 4xx answers and form errors."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class KehuError(Exception):
    status = 400
    code = "invalid"
    default_detail: Any = _("The request is not valid.")

    def __init__(
        self,
        detail: Any = None,
        *,
        code: str | None = None,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = str(detail if detail is not None else self.default_detail)
        self.code = code or self.code
        self.errors = errors or {}
        self.extra = extra or {}
        super().__init__(self.detail)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class InvalidInput(KehuError):
    status = 422


class Forbidden(KehuError):
    status = 403
    code = "forbidden"
    default_detail = _("Your role does not allow this action.")


class ReadOnly(Forbidden):
    """The user sees the record but may not change it: 403, since its existence is no secret
    to them (a record they do not see answers ``NotFound``)."""

    default_detail = _("You can see this record but may not change it.")


class Conflict(KehuError):
    status = 409
    code = "conflict"
    default_detail = _("The record was changed by someone else; reload it and try again.")


class NotFound(KehuError):
    """The record does not exist or lies outside the user's scope: 404, so neither leaks.

    The body never names what was looked for; ``what`` is for logs and tests only. Views turn
    it into Django's 404 page (``kehu.core.http``), the API into ``{"detail", "code"}``.
    """

    status = 404
    code = "not_found"
    default_detail = _("Not found.")

    def __init__(self, what: Any = None) -> None:
        super().__init__()
        self.what = str(what) if what is not None else ""


class StaleVersion(Conflict):
    code = "stale_version"


class QuotaExceeded(KehuError):
    """A per-user quota (e.g. daily reveals) is used up: 429, try again later."""

    status = 429
    code = "quota_exceeded"
    default_detail = _("You reached the limit for this action; try again later.")
