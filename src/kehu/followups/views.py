"""Follow-up UI: my day, calendar, tasks, the customer timeline with quick entry, the .ics feed."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts.http import AuthedRequest
from kehu.core.errors import KehuError
from kehu.core.http import (
    error_message,
    form_errors,
    htmx_template,
    is_htmx,
    raise_refusal,
    safe_url,
)
from kehu.core.numbers import whole_number
from kehu.customers.models import Customer
from kehu.followups import calendar_feed, emails, selectors, services
from kehu.followups.forms import FollowUpForm, SnoozeForm, TaskForm
from kehu.followups.models import CalendarFeed

TIMELINE_PAGE = "followups/customer_followups.html"
TIMELINE_FRAGMENT = "followups/_timeline.html"


@login_required
def my_day(request: AuthedRequest) -> HttpResponse:
    day = selectors.my_day(user=request.user)
    return render(request, "followups/my_day.html", {"day": day, "today": timezone.localdate()})


@login_required
def task_calendar(request: AuthedRequest) -> HttpResponse:
    view = "month" if request.GET.get("view") == "month" else "week"
    anchor = parse_date(request.GET.get("date", "")) or timezone.localdate()
    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        end = start + timedelta(days=7)
        previous, following = start - timedelta(days=7), end
    else:
        first = anchor.replace(day=1)
        start = first - timedelta(days=first.weekday())
        last = first.replace(day=month_calendar.monthrange(first.year, first.month)[1])
        end = last + timedelta(days=7 - last.weekday())
        previous = (first - timedelta(days=1)).replace(day=1)
        following = last + timedelta(days=1)
    by_day: dict[date, list[Any]] = {}
    for task in selectors.calendar_tasks(user=request.user, start=start, end=end):
        by_day.setdefault(timezone.localtime(task.due_at).date(), []).append(task)
    days = [start + timedelta(days=offset) for offset in range((end - start).days)]
    weeks = [
        [(day, by_day.get(day, [])) for day in days[index : index + 7]]
        for index in range(0, len(days), 7)
    ]
    context = {
        "view": view,
        "anchor": anchor,
        "weeks": weeks,
        "previous": previous,
        "following": following,
        "today": timezone.localdate(),
    }
    return render(request, "followups/calendar.html", context)


@login_required
def task_detail(request: AuthedRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get(user=request.user, task_id=task_id)
    return render(
        request,
        "followups/task_detail.html",
        {
            "task": task,
            "may_log": services.followup_may_create(request.user),
            "snooze_form": SnoozeForm(initial={"until": timezone.localtime() + timedelta(days=1)}),
        },
    )


@login_required
def task_new(request: AuthedRequest) -> HttpResponse:
    customer = None
    if request.GET.get("customer") or request.POST.get("customer"):
        customer_id = request.GET.get("customer") or request.POST.get("customer") or ""
        customer = (
            Customer.objects.visible_to(request.user)
            .filter(pk=whole_number(customer_id) or 0)
            .first()
        )
        if customer is None:
            raise Http404("customer")
    if not services.task_may_create(request.user, customer):
        raise PermissionDenied(_("Your role may not create tasks on customers."))
    form = TaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            task = services.task_create(
                actor=request.user,
                assignee=request.user,
                customer=customer,
                **form.cleaned_data,
            )
        except KehuError as error:
            raise_refusal(error)
            form_errors(form, error)
        else:
            messages.success(request, _("Task created."))
            return redirect("followups:task_detail", task_id=task.pk)
    return render(request, "followups/task_form.html", {"form": form, "customer": customer})


def _after_action(request: AuthedRequest, task_id: int) -> HttpResponse:
    if is_htmx(request):
        task = selectors.task_get(user=request.user, task_id=task_id)
        return render(request, "followups/_task_row.html", {"task": task})
    return redirect(safe_url(request, request.POST.get("next"), "followups:my_day"))


@login_required
@require_POST
def task_action(request: AuthedRequest, task_id: int, action: str) -> HttpResponse:
    # A task the user only sees is the 403 page, not a flash on the task they cannot work.
    selectors.task_get_editable(user=request.user, task_id=task_id)
    try:
        if action == "done":
            services.task_complete(actor=request.user, task_id=task_id)
        elif action == "cancel":
            services.task_cancel(
                actor=request.user, task_id=task_id, reason=request.POST.get("reason", "")
            )
        elif action == "snooze":
            form = SnoozeForm(request.POST)
            until = form.cleaned_data["until"] if form.is_valid() else request.POST.get("until")
            services.task_snooze(actor=request.user, task_id=task_id, until=until)
        else:
            raise Http404("action")
    except KehuError as error:
        message = error_message(error)  # a task out of scope is the 404 page
        if is_htmx(request):
            return HttpResponse(error.detail, status=error.status)
        messages.error(request, message)
        return redirect("followups:task_detail", task_id=task_id)
    return _after_action(request, task_id)


def _timeline_context(
    request: AuthedRequest, customer: Customer, form: FollowUpForm | None = None
) -> dict[str, Any]:
    if not selectors.conversation_shown(request.user):
        # marketing: the conversation in figures, no rows and no form
        activity = selectors.customer_activity(user=request.user, customer=customer)
        return {"customer": customer, "activity": activity}
    followups = selectors.followup_list(
        user=request.user, filters=selectors.FollowUpFilters(customer=customer.pk)
    )[:50]
    tasks = selectors.task_list(
        user=request.user, filters=selectors.TaskFilters(customer=customer.pk, status="open")
    )[:20]
    return {
        "customer": customer,
        "followups": followups,
        "open_tasks": tasks,
        "form": form
        or FollowUpForm(
            customer=customer, initial={"occurred_at": timezone.localtime(), "sentiment": "neutral"}
        ),
    }


def _visible_customer(request: AuthedRequest, customer_id: int) -> Customer:
    customer = Customer.objects.visible_to(request.user).filter(pk=customer_id).first()
    if customer is None:
        raise Http404("customer")
    return customer


@login_required
def customer_timeline(request: AuthedRequest, customer_id: int) -> HttpResponse:
    """The htmx-loadable follow-up timeline of a customer, with the quick-entry form."""
    customer = _visible_customer(request, customer_id)
    template = htmx_template(request, TIMELINE_PAGE, TIMELINE_FRAGMENT)
    return render(request, template, _timeline_context(request, customer))


@login_required
@require_POST
def followup_log(request: AuthedRequest, customer_id: int) -> HttpResponse:
    customer = _visible_customer(request, customer_id)
    if not services.followup_may_create(request.user):
        raise PermissionDenied(_("Your role may not log follow-ups."))
    form = FollowUpForm(request.POST, request.FILES, customer=customer)
    if form.is_valid():
        data = dict(form.cleaned_data)
        data["contact"] = data["contact"].pk if data.get("contact") else None
        try:
            services.followup_create(actor=request.user, customer=customer, data=data)
        except KehuError as error:
            raise_refusal(error)
            form_errors(form, error)
        else:
            if not is_htmx(request):
                messages.success(request, _("Follow-up logged."))
                return redirect("followups:customer_timeline", customer_id=customer.pk)
            return render(request, TIMELINE_FRAGMENT, _timeline_context(request, customer))
    template = htmx_template(request, TIMELINE_PAGE, TIMELINE_FRAGMENT)
    return render(request, template, _timeline_context(request, customer, form), status=422)


@login_required
def followup_detail(request: AuthedRequest, followup_id: int) -> HttpResponse:
    followup = selectors.followup_get(user=request.user, followup_id=followup_id)
    may_email = emails.email_may_send(request.user, followup)
    return render(
        request, "followups/followup_detail.html", {"followup": followup, "may_email": may_email}
    )


@login_required
def attachment_download(request: AuthedRequest, attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_get(user=request.user, attachment_id=attachment_id)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)


@login_required
def feed_settings(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        calendar_feed.feed_regenerate(user=request.user)
        messages.success(
            request, _("A new calendar address was created; the old one no longer works.")
        )
        return redirect("followups:feed_settings")
    feed, _created = CalendarFeed.objects.get_or_create(user=request.user)
    url = request.build_absolute_uri(calendar_feed.feed_path(feed))
    return render(request, "followups/feed_settings.html", {"feed_url": url})


def ics_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The secret-URL iCalendar feed of a user's tasks (no session: phones fetch it)."""
    feed = selectors.feed_for_token(token)
    body = calendar_feed.render_ics(user=feed.user, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="kehu-tasks.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
