from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from kehu.accounts import selectors, services
from kehu.accounts.forms import ProfileForm, TokenCreateForm
from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core import settings_pages
from kehu.core.access import is_admin
from kehu.core.errors import KehuError
from kehu.core.http import form_errors, safe_url


class SafeNextMixin(auth_views.RedirectURLMixin):
    """``next`` through the one safe-redirect check (core.http.safe_url); "" sends the user
    to the view's default (LOGIN_REDIRECT_URL, LOGOUT_REDIRECT_URL)."""

    request: HttpRequest

    def get_redirect_url(self, request: HttpRequest | None = None) -> str:
        request = request or self.request
        name = self.redirect_field_name
        target = request.POST.get(name, request.GET.get(name, ""))
        return safe_url(request, target, fallback="")


class LoginView(SafeNextMixin, auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(SafeNextMixin, auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, _("Your password was changed."))
        return super().form_valid(form)


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
