"""The score actions' forms (a retention task, a one-to-one plan owner) and the customer-page
section with both scores and their reasons. The lists are the generic report pages
``/analytics/reports/churn-risk/`` and ``/analytics/reports/high-value/``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from kehu.accounts.http import AuthedRequest
from kehu.analytics.selectors import scores as selectors
from kehu.analytics.services import scores as services
from kehu.core.access import is_admin
from kehu.core.errors import KehuError, NotFound
from kehu.core.http import form_errors, raise_not_found, raise_refusal
from kehu.followups.forms import DATE_WIDGET, BootstrapMixin


class RetentionForm(BootstrapMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=list(services.RETENTION_KINDS.items()))
    due_on = forms.DateField(label=_("Due"), required=False, widget=DATE_WIDGET)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()


class PlanOwnerForm(BootstrapMixin, forms.Form):
    user = forms.ModelChoiceField(
        label=_("One-to-one plan owner"), queryset=get_user_model().objects.none()
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            get_user_model().objects.filter(is_active=True).order_by("username")
        )
        self.style()


def _entry(request: AuthedRequest, customer_id: int) -> dict[str, Any]:
    try:
        return selectors.customer_score(request.user, customer_id)
    except NotFound as error:
        raise_not_found(error)
        raise


@login_required
def retention_task(request: AuthedRequest, customer_id: int) -> HttpResponse:
    entry = _entry(request, customer_id)
    form = RetentionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.retention_task(
                actor=request.user,
                customer_id=customer_id,
                kind=form.cleaned_data["kind"],
                due_on=form.cleaned_data["due_on"],
                note=form.cleaned_data["note"],
            )
        except KehuError as error:
            raise_refusal(error)
            form_errors(form, error)
        else:
            messages.success(request, _("Retention task created for the owner."))
            return redirect(reverse("customers:detail", args=[customer_id]))
    return render(
        request,
        "analytics/scores/action.html",
        {"entry": entry, "form": form, "title": _("Retention task")},
    )


@login_required
def plan_owner(request: AuthedRequest, customer_id: int) -> HttpResponse:
    entry = _entry(request, customer_id)
    form = PlanOwnerForm(request.POST or None, initial={"user": entry["plan_owner_id"]})
    if request.method == "POST" and form.is_valid():
        try:
            services.assign_plan_owner(
                actor=request.user, customer_id=customer_id, user_id=form.cleaned_data["user"].pk
            )
        except KehuError as error:
            raise_refusal(error)
            form_errors(form, error, {"user_id": "user"})
        else:
            messages.success(request, _("One-to-one plan owner appointed."))
            return redirect(reverse("customers:detail", args=[customer_id]))
    return render(
        request,
        "analytics/scores/action.html",
        {"entry": entry, "form": form, "title": _("One-to-one plan owner")},
    )


def section_context(customer: Any, user: Any) -> dict[str, Any] | None:
    """The customer page's "Scores" section: both scores and their reasons (two queries)."""
    try:
        entry = selectors.customer_score(user, customer.pk)
    except NotFound:
        return None
    return {
        "entry": entry,
        "may_act": getattr(user, "role", "") in {"manager", "sales"} or is_admin(user),
    }


urlpatterns: list[URLPattern] = [
    path("scores/<int:customer_id>/retention-task/", retention_task, name="score_retention"),
    path("scores/<int:customer_id>/plan-owner/", plan_owner, name="score_plan_owner"),
]
