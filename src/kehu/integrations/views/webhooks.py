"""Pages of the integrations app: webhook subscriptions and their delivery log (administrators).
Thin: every write is a ``kehu.integrations.services.webhooks`` call."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core import events
from kehu.core.errors import KehuError
from kehu.core.http import error_message, form_errors
from kehu.core.numbers import posted_version
from kehu.core.pagination import bounded_page
from kehu.integrations.models import WebhookDeliveryStatus, WebhookSubscription
from kehu.integrations.selectors import webhooks as selectors
from kehu.integrations.services import webhooks as services

PAGE_SIZE = 50


class WebhookForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    url = forms.CharField(
        label=gettext_lazy("Receiver URL"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://erp.example.cn/kehu/webhook"}),
        help_text=gettext_lazy("http:// or https://; Kehu POSTs each event there as JSON."),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"), choices=(), widget=forms.CheckboxSelectMultiple
    )
    run_as = forms.ModelChoiceField(
        label=gettext_lazy("Payloads as seen by"),
        queryset=User.objects.none(),
        help_text=gettext_lazy(
            "Only records this user sees are sent, with contact details masked where this user "
            "sees them masked."
        ),
    )
    secret = forms.CharField(
        label=gettext_lazy("Signing secret"),
        max_length=200,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Leave empty to generate one (or to keep the current one)."),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        events_field: Any = self.fields["events"]
        events_field.choices = [(name, label) for name, label in events.NAMES.items()]
        run_as: Any = self.fields["run_as"]
        run_as.queryset = User.objects.filter(is_active=True).order_by("username")

    def data_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["run_as"] = data["run_as"].pk
        if not data.get("secret"):
            data.pop("secret", None)
        return data


def _admin(request: AuthedRequest) -> User:
    if not services.webhooks_may_manage(request.user):
        raise PermissionDenied
    return request.user


def _initial(webhook: WebhookSubscription) -> dict[str, Any]:
    return {
        "name": webhook.name,
        "url": webhook.url,
        "events": webhook.events,
        "run_as": webhook.run_as_id,
        "is_active": webhook.is_active,
    }


@login_required
def webhook_list(request: AuthedRequest) -> HttpResponse:
    user = _admin(request)
    form = WebhookForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            webhook = services.webhook_create(actor=user, data=form.data_for_service())
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Webhook added."))
            return redirect("integrations:webhook", webhook.pk)
    context = {"webhooks": selectors.webhook_list(user=user), "form": form}
    return render(request, "integrations/webhooks.html", context)


@login_required
def webhook_detail(request: AuthedRequest, webhook_id: int) -> HttpResponse:
    user = _admin(request)
    webhook = services.webhook_get(user=user, webhook_id=webhook_id)
    form = WebhookForm(initial=_initial(webhook))
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            services.webhook_delete(actor=user, webhook=webhook)
            messages.success(request, _("Webhook deleted."))
            return redirect("integrations:webhooks")
        form = WebhookForm(request.POST)
        if form.is_valid():
            try:
                services.webhook_update(
                    actor=user,
                    webhook=webhook,
                    data=form.data_for_service(),
                    version=posted_version(request),
                )
            except KehuError as error:
                form_errors(form, error)
            else:
                messages.success(request, _("Webhook saved."))
                return redirect("integrations:webhook", webhook.pk)
    status = request.GET.get("status", "")
    if status not in WebhookDeliveryStatus.values:
        status = ""
    rows = selectors.delivery_list(user=user, webhook=webhook, status=status)
    context = {
        "webhook": webhook,
        "form": form,
        "page": bounded_page(rows, PAGE_SIZE, request.GET.get("page")),
        "status": status,
        "statuses": WebhookDeliveryStatus.choices,
    }
    return render(request, "integrations/webhook.html", context)


@login_required
def delivery_detail(request: AuthedRequest, delivery_id: int) -> HttpResponse:
    user = _admin(request)
    delivery = services.delivery_get(user=user, delivery_id=delivery_id)
    payload = json.dumps(json.loads(delivery.body), ensure_ascii=False, indent=2)
    context = {"delivery": delivery, "webhook": delivery.subscription, "payload": payload}
    return render(request, "integrations/webhook_delivery.html", context)


@login_required
@require_POST
def delivery_redeliver(request: AuthedRequest, delivery_id: int) -> HttpResponse:
    user = _admin(request)
    delivery = services.delivery_get(user=user, delivery_id=delivery_id)
    try:
        services.delivery_redeliver(actor=user, delivery=delivery)
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("The delivery was queued again."))
    return redirect("integrations:webhook", delivery.subscription_id)


urlpatterns: list[URLPattern] = [
    path("webhooks/", webhook_list, name="webhooks"),
    path("webhooks/<int:webhook_id>/", webhook_detail, name="webhook"),
    path("webhooks/deliveries/<int:delivery_id>/", delivery_detail, name="webhook_delivery"),
    path(
        "webhooks/deliveries/<int:delivery_id>/redeliver/",
        delivery_redeliver,
        name="webhook_redeliver",
    ),
]
