"""Notification centre UI: list, mark read, the navbar badge, channels, the delivery log."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core.access import is_admin
from kehu.core.errors import KehuError
from kehu.core.http import form_errors, is_htmx, raise_not_found, safe_url
from kehu.core.numbers import id_or_404
from kehu.notifications import selectors, services
from kehu.notifications.forms import ChannelForm
from kehu.notifications.models import DeliveryStatus


@login_required
def notification_list(request: AuthedRequest) -> HttpResponse:
    try:
        filters = selectors.NotificationFilters.from_querydict(request.GET)
    except ValidationError:  # a hand-edited link: the whole list, as before
        filters = selectors.NotificationFilters()
    rows = selectors.notification_list(user=request.user, filters=filters)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "unread_only": filters.unread,
            "unread": selectors.unread_count(user=request.user),
        },
    )


def badge(request: HttpRequest) -> HttpResponse:
    """The navbar bell with the unread count; base.html loads it with hx-get on load/every 60s.

    Signed out (the session expired, or another tab signed out) it answers 204, which htmx
    leaves alone. A redirect would swap the whole login page into the navbar, and that page's
    new CSRF cookie would replace the one of a login form open in the same browser, whose
    sign-in then fails the CSRF check (seen in the browser tests).
    """
    user = request.user
    if not isinstance(user, User):  # signed out: an AnonymousUser
        return HttpResponse(status=204)
    return render(
        request, "notifications/_badge.html", {"unread": selectors.unread_count(user=user)}
    )


@login_required
@require_POST
def mark_read(request: AuthedRequest, notification_id: int) -> HttpResponse:
    notification = services.notification_mark_read(
        user=request.user, notification_id=notification_id
    )
    if request.POST.get("open") and notification.url:
        # a stored link, checked as every redirect is; an unsafe one opens the list
        return redirect(safe_url(request, notification.url, "notifications:list"))
    if is_htmx(request):
        return render(request, "notifications/_item.html", {"item": notification})
    return redirect("notifications:list")


@login_required
@require_POST
def mark_all_read(request: AuthedRequest) -> HttpResponse:
    count = services.notification_mark_all_read(user=request.user)
    messages.success(request, _("%(count)d notifications marked as read.") % {"count": count})
    return redirect("notifications:list")


@login_required
def channel_settings(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("delete"):
        services.channel_delete(actor=request.user, channel_id=id_or_404(request.POST["delete"]))
        messages.success(request, _("Channel removed."))
        return redirect("notifications:channels")
    form = ChannelForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            services.channel_create(actor=request.user, **form.cleaned_data)
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Channel added."))
            return redirect("notifications:channels")
    return render(
        request,
        "notifications/channels.html",
        {"channels": selectors.channel_list(user=request.user), "form": form},
        status=422 if form.errors else 200,
    )


@login_required
def delivery_log(request: AuthedRequest) -> HttpResponse:
    """Admins see every delivery and why it failed; they can send failed ones again."""
    if not is_admin(request.user):
        raise Http404("deliveries")
    if request.method == "POST":
        retry = id_or_404(request.POST.get("retry"))
        try:
            services.delivery_retry(actor=request.user, delivery_id=retry)
        except KehuError as error:
            raise_not_found(error)
            raise
        messages.success(request, _("The delivery was queued again."))
        return redirect("notifications:deliveries")
    status = request.GET.get("status", "")
    rows = selectors.delivery_list(user=request.user, status=status)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/deliveries.html",
        {"page": page, "status": status, "statuses": DeliveryStatus.choices},
    )
