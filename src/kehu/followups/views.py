"""Follow-up UI: my day, calendar, tasks, the customer timeline with quick entry, the .ics feed."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date, timedelta
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts.models import User
from kehu.core.errors import KehuError
from kehu.customers.models import Customer
from kehu.followups import calendar_feed, selectors, services
from kehu.followups.forms import FollowUpForm, SnoozeForm, TaskForm
from kehu.followups.models import CalendarFeed


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _apply_errors(form: Any, error: KehuError) -> None:
    for name, problems in (error.errors or {"__all__": [error.detail]}).items():
        field = name if name in form.fields else None
        for problem in problems:
            form.add_error(field, problem)


@login_required
def my_day(request: HttpRequest) -> HttpResponse:
    day = selectors.my_day(user=_user(request))
    return render(request, "followups/my_day.html", {"day": day, "today": timezone.localdate()})


@login_required
def task_calendar(request: HttpRequest) -> HttpResponse:
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
    for task in selectors.calendar_tasks(user=_user(request), start=start, end=end):
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
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get(user=_user(request), task_id=task_id)
    return render(
        request,
        "followups/task_detail.html",
        {
            "task": task,
            "snooze_form": SnoozeForm(initial={"until": timezone.localtime() + timedelta(days=1)}),
        },
    )


@login_required
def task_new(request: HttpRequest) -> HttpResponse:
    customer = None
    if request.GET.get("customer") or request.POST.get("customer"):
        customer_id = request.GET.get("customer") or request.POST.get("customer") or ""
        customer = (
            Customer.objects.visible_to(_user(request))
            .filter(pk=int(customer_id) if customer_id.isdigit() else 0)
            .first()
        )
        if customer is None:
            raise Http404("customer")
    form = TaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            task = services.task_create(
                actor=_user(request),
                assignee=_user(request),
                customer=customer,
                **form.cleaned_data,
            )
        except KehuError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Task created."))
            return redirect("followups:task_detail", task_id=task.pk)
    return render(request, "followups/task_form.html", {"form": form, "customer": customer})


def _after_action(request: HttpRequest, task_id: int) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        task = selectors.task_get(user=_user(request), task_id=task_id)
        return render(request, "followups/_task_row.html", {"task": task})
    return redirect(request.POST.get("next") or "followups:my_day")


@login_required
@require_POST
def task_action(request: HttpRequest, task_id: int, action: str) -> HttpResponse:
    try:
        if action == "done":
            services.task_complete(actor=_user(request), task_id=task_id)
        elif action == "cancel":
            services.task_cancel(
                actor=_user(request), task_id=task_id, reason=request.POST.get("reason", "")
            )
        elif action == "snooze":
            form = SnoozeForm(request.POST)
            until = form.cleaned_data["until"] if form.is_valid() else request.POST.get("until")
            services.task_snooze(actor=_user(request), task_id=task_id, until=until)
        else:
            raise Http404("action")
    except KehuError as error:
        if request.htmx:  # type: ignore[attr-defined]
            return HttpResponse(error.detail, status=error.status)
        messages.error(request, error.detail)
        return redirect("followups:task_detail", task_id=task_id)
    return _after_action(request, task_id)


def _timeline_context(
    request: HttpRequest, customer: Customer, form: FollowUpForm | None = None
) -> dict[str, Any]:
    followups = selectors.followup_list(
        user=_user(request), filters=selectors.FollowUpFilters(customer=customer.pk)
    )[:50]
    tasks = selectors.task_list(
        user=_user(request), filters=selectors.TaskFilters(customer=customer.pk, status="open")
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


def _visible_customer(request: HttpRequest, customer_id: int) -> Customer:
    customer = Customer.objects.visible_to(_user(request)).filter(pk=customer_id).first()
    if customer is None:
        raise Http404("customer")
    return customer


@login_required
def customer_timeline(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The htmx-loadable follow-up timeline of a customer, with the quick-entry form."""
    customer = _visible_customer(request, customer_id)
    template = "followups/_timeline.html" if request.htmx else "followups/customer_followups.html"  # type: ignore[attr-defined]
    return render(request, template, _timeline_context(request, customer))


@login_required
@require_POST
def followup_log(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _visible_customer(request, customer_id)
    form = FollowUpForm(request.POST, request.FILES, customer=customer)
    if form.is_valid():
        data = dict(form.cleaned_data)
        data["contact"] = data["contact"].pk if data.get("contact") else None
        try:
            services.followup_create(actor=_user(request), customer=customer, data=data)
        except KehuError as error:
            _apply_errors(form, error)
        else:
            if not request.htmx:  # type: ignore[attr-defined]
                messages.success(request, _("Follow-up logged."))
                return redirect("followups:customer_timeline", customer_id=customer.pk)
            return render(request, "followups/_timeline.html", _timeline_context(request, customer))
    status = 422
    template = "followups/_timeline.html" if request.htmx else "followups/customer_followups.html"  # type: ignore[attr-defined]
    return render(request, template, _timeline_context(request, customer, form), status=status)


@login_required
def followup_detail(request: HttpRequest, followup_id: int) -> HttpResponse:
    followup = selectors.followup_get(user=_user(request), followup_id=followup_id)
    return render(request, "followups/followup_detail.html", {"followup": followup})


@login_required
def attachment_download(request: HttpRequest, attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_get(user=_user(request), attachment_id=attachment_id)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)


@login_required
def feed_settings(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        calendar_feed.feed_regenerate(user=_user(request))
        messages.success(
            request, _("A new calendar address was created; the old one no longer works.")
        )
        return redirect("followups:feed_settings")
    feed, _created = CalendarFeed.objects.get_or_create(user=_user(request))
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
