"""How API requests authenticate: a personal API token, or the browser's session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from kehu.accounts.services import token_authenticate


class BearerTokenAuth(HttpBearer):
    """``Authorization: Bearer kehu_…`` with a personal API token."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(token)
        if user is not None:
            request.user = user  # history and selectors read the acting user from here
        return user


class SessionAuth(APIKeyCookie):
    """The browser's session cookie; unsafe methods must carry the CSRF token."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a signed-in session there is nothing for CSRF to protect: the request has no
        # credentials and answers 401, not the CSRF check's 403 (the API contract).
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None
