from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from kehu.accounts import security, selectors, services
from kehu.accounts.forms import CodeForm, ProfileForm, TokenCreateForm
from kehu.accounts.http import AuthedRequest
from kehu.accounts.middleware import VERIFIED
from kehu.accounts.models import User
from kehu.core import settings_pages
from kehu.core.access import is_admin
from kehu.core.errors import InvalidInput, KehuError
from kehu.core.http import error_message, form_errors, safe_url


class SafeNextMixin(auth_views.RedirectURLMixin):
    """``next`` through the one safe-redirect check (core.http.safe_url); "" sends the user
    to the view's default (LOGIN_REDIRECT_URL, LOGOUT_REDIRECT_URL)."""

    request: HttpRequest

    def get_redirect_url(self, request: HttpRequest | None = None) -> str:
        request = request or self.request
        name = self.redirect_field_name
        target = request.POST.get(name, request.GET.get(name, ""))
        return safe_url(request, target, fallback="")


# The session key of a sign-in waiting for its second factor: the user whose password was
# right, the backend that said so, when, and where to go next. Nobody is signed in yet.
PENDING = "kehu_2fa_pending"
PENDING_SECONDS = 300


class LoginView(SafeNextMixin, auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if not security.two_factor_enabled(user):
            return super().form_valid(form)
        self.request.session.cycle_key()
        self.request.session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "at": time.time(),
            "next": self.get_redirect_url(),
        }
        return redirect("accounts:login_verify")


def _pending_user(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=int(pending["user"]), is_active=True).first()
    return (user, pending) if user is not None else None


def login_verify(request: HttpRequest) -> HttpResponse:
    """The sign-in's second step: a code of the authenticator app, or a recovery code."""
    found = _pending_user(request)
    if found is None:
        request.session.pop(PENDING, None)
        messages.info(request, _("Sign in again: the sign-in waited too long for its code."))
        return redirect("accounts:login")
    user, pending = found
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wait = security.throttled_seconds(user)
        if wait:
            form.add_error(
                "code", _("Too many wrong codes. Try again in %(seconds)d s.") % {"seconds": wait}
            )
        elif security.verify_second_factor(user=user, code=form.cleaned_data["code"]):
            del request.session[PENDING]
            auth_login(request, user, backend=pending["backend"])
            request.session[VERIFIED] = True
            target = pending.get("next") or ""
            return redirect(safe_url(request, target, fallback=settings.LOGIN_REDIRECT_URL))
        else:
            security.second_factor_failed(user)
            form.add_error("code", _("The code is not right."))
    return render(request, "accounts/login_verify.html", {"form": form})


class LogoutView(SafeNextMixin, auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def get_success_url(self) -> str:
        # The forced change (SignInRequirementsMiddleware) passes the page the user asked for.
        target = self.request.GET.get("next", "")
        return safe_url(self.request, target, fallback=str(self.success_url))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["forced"] = getattr(self.request.user, "must_change_password", False)
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        user = self.request.user
        assert isinstance(user, User)
        try:
            security.password_set(
                actor=user, user=user, password=form.cleaned_data["new_password1"]
            )
        except KehuError as error:
            form_errors(form, error, {"password": "new_password1"})
            return self.form_invalid(form)
        update_session_auth_hash(self.request, user)
        messages.success(self.request, _("Your password was changed."))
        return HttpResponseRedirect(self.get_success_url())


@login_required
def profile(request: AuthedRequest) -> HttpResponse:
    user = request.user
    profile_form = ProfileForm(instance=user)
    token_form = TokenCreateForm()
    issued = None
    if request.method == "POST" and request.POST.get("action") == "profile":
        profile_form = ProfileForm(request.POST, instance=user)
        if profile_form.is_valid():
            profile_form.save()
            messages.success(request, _("Your profile was saved."))
            return redirect("accounts:profile")
    elif request.method == "POST" and request.POST.get("action") == "create_token":
        token_form = TokenCreateForm(request.POST)
        if token_form.is_valid():
            try:
                issued = services.token_create(
                    user=user,
                    name=token_form.cleaned_data["name"],
                    expires_at=token_form.cleaned_data["expires_at"],
                )
            except KehuError as error:
                form_errors(token_form, error)
            else:
                token_form = TokenCreateForm()
    context = {
        "two_factor": security.two_factor_enabled(user),
        "two_factor_required": security.two_factor_required(user),
        "recovery_left": security.recovery_codes_left(user),
        "code_form": CodeForm(),
        "profile_form": profile_form,
        "token_form": token_form,
        "issued": issued,
        "tokens": selectors.token_list(user=user),
    }
    return render(request, "accounts/profile.html", context)


@login_required
@require_POST
def token_revoke(request: AuthedRequest, token_id: int) -> HttpResponse:
    # Another user's token is NotFound: the 404 page, so its existence does not leak.
    token = services.token_revoke(user=request.user, token_id=token_id)
    messages.success(request, _("Token “%(name)s” was revoked.") % {"name": token.name})
    return redirect("accounts:profile")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the UI language and remember it on the signed-in user's profile."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    user = request.user
    if isinstance(user, User) and language in {"zh-hans", "en"}:
        user.language = language
        user.save(update_fields=["language"])
    if isinstance(response, HttpResponseRedirect):
        response["Location"] = safe_url(request, request.POST.get("next"))
    return response


@login_required
def organisation(request: AuthedRequest) -> HttpResponse:
    if not is_admin(request.user):
        raise PermissionDenied
    context = {
        "departments": selectors.department_tree(),
        "users": selectors.user_list(),
        # pages of rules kept as records (business calendar, cadence plans, care dates)
        "rule_pages": settings_pages.pages_for(None, request.user),
    }
    return render(request, "accounts/settings.html", context)


# The session key of the secret the set-up page shows until a code confirms it.
SETUP_KEY = "kehu_2fa_setup_key"


@login_required
def two_factor_setup(request: AuthedRequest) -> HttpResponse:
    """Scan the QR code (or type the key), confirm with a code; the recovery codes show once."""
    user = request.user
    if security.two_factor_enabled(user):
        return redirect("accounts:profile")
    key = request.session.get(SETUP_KEY) or security.two_factor_new_key()
    request.session[SETUP_KEY] = key  # the same key on a reload, nothing in the database yet
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = security.two_factor_confirm(user=user, key=key, code=form.cleaned_data["code"])
        except KehuError as error:
            form_errors(form, error)
        else:
            del request.session[SETUP_KEY]
            request.session[VERIFIED] = True
            messages.success(request, _("Two-factor sign-in is on."))
            return render(request, "accounts/recovery_codes.html", {"codes": codes})
    context = {
        "form": form,
        "qr": security.qr_svg(user, key),
        "secret": security.secret_of(key),
        "required": security.two_factor_required(user),
    }
    return render(request, "accounts/two_factor_setup.html", context)


@login_required
@require_POST
def two_factor_disable(request: AuthedRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(errors={"code": [_("Enter a code.")]})
        security.two_factor_disable(user=request.user, code=form.cleaned_data["code"])
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        request.session.pop(VERIFIED, None)
        messages.success(request, _("Two-factor sign-in is off."))
    return redirect("accounts:profile")


@login_required
@require_POST
def recovery_codes_regenerate(request: AuthedRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(errors={"code": [_("Enter a code.")]})
        codes = security.recovery_codes_regenerate(
            user=request.user, code=form.cleaned_data["code"]
        )
    except KehuError as error:
        messages.error(request, error_message(error))
        return redirect("accounts:profile")
    messages.success(request, _("New recovery codes were made; the old ones no longer work."))
    return render(request, "accounts/recovery_codes.html", {"codes": codes})
