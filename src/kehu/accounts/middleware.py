from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, ResolverMatch, resolve, reverse
from django.utils import translation
from django.utils.translation import gettext as _

# The session key set once the signed-in user passed, or set up, the second factor
# (kehu.accounts.views sets it at sign-in).
VERIFIED = "kehu_2fa_verified"


class UserLanguageMiddleware:
    """A signed-in user's saved language wins over the browser's Accept-Language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user and user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class SignInRequirementsMiddleware:
    """What a signed-in user must do before anything else: replace a password someone else set
    (``User.must_change_password``), or set up the second factor their role requires
    (``security.2fa_enforced``). Pages redirect to the step; the API answers 403.

    Only the session's user is held here: a request with an API token carries no session, its
    user is anonymous at this point, and it passes (API tokens are unaffected).
    """

    # Pages of the accounts app open whatever step is due, besides the step's own page.
    ALWAYS = frozenset({"logout", "login", "login_verify", "set_language"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        step = self._step(request, user)
        if step is None:
            return self.get_response(request)
        match = self._match(request)
        if (
            match is not None
            and match.namespace == "accounts"
            and (match.url_name in self.ALWAYS or match.url_name == step)
        ):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            detail = (
                _("Change your password first.")
                if step == "password_change"
                else _("Set up two-factor sign-in first.")
            )
            code = "password_change_required" if step == "password_change" else "2fa_required"
            return JsonResponse({"detail": detail, "code": code, "errors": {}}, status=403)
        query = urlencode({"next": request.get_full_path()})
        return redirect(f"{reverse(f'accounts:{step}')}?{query}")

    @staticmethod
    def _match(request: HttpRequest) -> ResolverMatch | None:
        try:
            return resolve(request.path_info)
        except Resolver404:
            return None

    @staticmethod
    def _step(request: HttpRequest, user: Any) -> str | None:
        if getattr(user, "must_change_password", False):
            return "password_change"
        if request.session.get(VERIFIED):
            return None
        # Imported here: the services import models, which are not ready when Django loads
        # the middleware list.
        from kehu.accounts import security

        if not security.two_factor_required(user):
            return None
        if security.two_factor_enabled(user):
            # It signed in with its code, or set the app up in another browser: asked once.
            request.session[VERIFIED] = True
            return None
        return "two_factor_setup"
