"""The SLA settings pages (admins): policies per priority and grade, and the business calendar
(hours, public holidays and 调休). Thin: every write is a service call."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core import config
from kehu.core.errors import KehuError
from kehu.core.http import form_errors
from kehu.core.numbers import posted_version
from kehu.customers.models import Grade
from kehu.service.models import CalendarDayKind, CalendarEntry, SlaPolicy, TicketPriority
from kehu.service.services import calendar, sla


class PolicyForm(forms.Form):
    priority = forms.ChoiceField(
        label=gettext_lazy("Ticket priority"), choices=TicketPriority.choices
    )
    customer_grade = forms.ChoiceField(
        label=gettext_lazy("Customer grade"),
        choices=[("", gettext_lazy("Any grade")), *Grade.choices],
        required=False,
        help_text=gettext_lazy("A grade's policy wins over the policy for any grade."),
    )
    respond_minutes = forms.IntegerField(
        label=gettext_lazy("Respond within (business minutes)"),
        help_text=gettext_lazy("Counted on working hours only: 120 is two working hours."),
    )
    resolve_minutes = forms.IntegerField(label=gettext_lazy("Resolve within (business minutes)"))
    warn_before_minutes = forms.IntegerField(
        label=gettext_lazy("Warn before breach (business minutes)"), initial=30
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)


class EntryForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=CalendarDayKind.choices)
    start = forms.DateField(
        label=gettext_lazy("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("Last day"), widget=forms.DateInput(attrs={"type": "date"})
    )


WEEKDAYS = [
    (1, gettext_lazy("Monday")),
    (2, gettext_lazy("Tuesday")),
    (3, gettext_lazy("Wednesday")),
    (4, gettext_lazy("Thursday")),
    (5, gettext_lazy("Friday")),
    (6, gettext_lazy("Saturday")),
    (7, gettext_lazy("Sunday")),
]


class HoursForm(forms.Form):
    work_start = forms.TimeField(
        label=gettext_lazy("Working day starts"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    work_end = forms.TimeField(
        label=gettext_lazy("Working day ends"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    lunch_start = forms.TimeField(
        label=gettext_lazy("Lunch break starts"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text=gettext_lazy("Leave both ends empty for no lunch break."),
    )
    lunch_end = forms.TimeField(
        label=gettext_lazy("Lunch break ends"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    work_days = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Working days"),
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Public holidays and make-up working days (调休) override these."),
    )


def _hours_initial() -> dict[str, Any]:
    return {
        "work_start": config.get(calendar.WORK_START.key),
        "work_end": config.get(calendar.WORK_END.key),
        "lunch_start": config.get(calendar.LUNCH_START.key),
        "lunch_end": config.get(calendar.LUNCH_END.key),
        "work_days": config.get(calendar.WORK_DAYS.key),
    }


def _admin_only(request: AuthedRequest) -> User:
    if not sla.policies_may_edit(request.user):
        raise PermissionDenied
    return request.user


def _year(value: str | None) -> int:
    try:
        year = int(value or "")
    except ValueError:
        year = timezone.localdate().year
    return min(max(year, 2000), 2100)


@login_required
def sla_settings(request: AuthedRequest) -> HttpResponse:
    _admin_only(request)
    year = _year(request.GET.get("year"))
    hours = calendar.working_hours()
    context = {
        "policies": sla.policies_in_order(),
        "entries": calendar.entries_between(date(year, 1, 1), date(year, 12, 31)),
        "year": year,
        "years": [year - 1, year, year + 1],
        "spans": [(f"{start:%H:%M}", f"{end:%H:%M}") for start, end in hours.spans],
        "work_days": sorted(hours.days),
        "minutes_per_day": hours.minutes_per_day,
        "weekdays": dict(WEEKDAYS),
    }
    return render(request, "service/sla/settings.html", context)


@login_required
def hours_edit(request: AuthedRequest) -> HttpResponse:
    user = _admin_only(request)
    form = HoursForm(request.POST if request.method == "POST" else None, initial=_hours_initial())
    if request.method == "POST" and form.is_valid():
        try:
            calendar.working_hours_update(actor=user, data=form.cleaned_data)
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Working hours saved."))
            return redirect("service:sla_settings")
    context = {"form": form, "title": _("Working hours"), "form_id": "hours-form"}
    return render(request, "service/sla/form.html", context)


def _policy_initial(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "priority": policy.priority,
        "customer_grade": policy.customer_grade,
        "respond_minutes": policy.respond_minutes,
        "resolve_minutes": policy.resolve_minutes,
        "warn_before_minutes": policy.warn_before_minutes,
        "is_active": policy.is_active,
    }


@login_required
def policy_edit(request: AuthedRequest, policy_id: int | None = None) -> HttpResponse:
    user = _admin_only(request)
    policy = get_object_or_404(SlaPolicy, pk=policy_id) if policy_id else None
    form = PolicyForm(
        request.POST if request.method == "POST" else None,
        initial=_policy_initial(policy) if policy else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            if policy is None:
                sla.policy_create(actor=user, data=form.cleaned_data)
            else:
                sla.policy_update(
                    actor=user,
                    policy=policy,
                    data=form.cleaned_data,
                    version=posted_version(request),
                )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("SLA policy saved."))
            return redirect("service:sla_settings")
    title = _("Edit SLA policy") if policy else _("New SLA policy")
    context = {"form": form, "object": policy, "title": title, "form_id": "policy-form"}
    return render(request, "service/sla/form.html", context)


@login_required
@require_POST
def policy_delete(request: AuthedRequest, policy_id: int) -> HttpResponse:
    user = _admin_only(request)
    policy = get_object_or_404(SlaPolicy, pk=policy_id)
    sla.policy_delete(actor=user, policy=policy)
    messages.success(request, _("SLA policy deleted."))
    return redirect("service:sla_settings")


@login_required
def entry_edit(request: AuthedRequest, entry_id: int | None = None) -> HttpResponse:
    user = _admin_only(request)
    entry = get_object_or_404(CalendarEntry, pk=entry_id) if entry_id else None
    initial = (
        {"name": entry.name, "kind": entry.kind, "start": entry.start, "end": entry.end}
        if entry
        else None
    )
    form = EntryForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if entry is None:
                saved = calendar.calendar_entry_create(actor=user, data=form.cleaned_data)
            else:
                saved = calendar.calendar_entry_update(
                    actor=user, entry=entry, data=form.cleaned_data
                )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Calendar entry saved."))
            return redirect(f"{_settings_url()}?year={saved.start.year}")
    title = _("Edit calendar entry") if entry else _("New calendar entry")
    context = {"form": form, "object": None, "title": title, "form_id": "entry-form"}
    return render(request, "service/sla/form.html", context)


def _settings_url() -> str:
    return reverse("service:sla_settings")


@login_required
@require_POST
def entry_delete(request: AuthedRequest, entry_id: int) -> HttpResponse:
    user = _admin_only(request)
    entry = get_object_or_404(CalendarEntry, pk=entry_id)
    calendar.calendar_entry_delete(actor=user, entry=entry)
    messages.success(request, _("Calendar entry deleted."))
    return redirect(f"{_settings_url()}?year={entry.start.year}")


@login_required
@require_POST
def calendar_refresh(request: AuthedRequest) -> HttpResponse:
    _admin_only(request)
    raw = request.POST.get("year", "")
    if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
        messages.error(request, str(calendar.YEARS_OUT_OF_RANGE))
        return redirect("service:sla_settings")
    year = int(raw)
    found = calendar.calendar_refresh(years=[year])
    messages.success(
        request,
        _("Public holidays of %(year)d loaded: %(created)d added, %(deleted)d removed.")
        % {"year": year, **found},
    )
    if found["skipped"]:
        messages.info(
            request,
            _("%(skipped)d left out: they overlap entries edited by hand.") % found,
        )
    return redirect(f"{_settings_url()}?year={year}")


urlpatterns: list[URLPattern] = [
    path("sla/", sla_settings, name="sla_settings"),
    path("sla/hours/", hours_edit, name="sla_hours"),
    path("sla/policies/new/", policy_edit, name="sla_policy_create"),
    path("sla/policies/<int:policy_id>/", policy_edit, name="sla_policy_edit"),
    path("sla/policies/<int:policy_id>/delete/", policy_delete, name="sla_policy_delete"),
    path("sla/calendar/new/", entry_edit, name="calendar_entry_create"),
    path("sla/calendar/<int:entry_id>/", entry_edit, name="calendar_entry_edit"),
    path("sla/calendar/<int:entry_id>/delete/", entry_delete, name="calendar_entry_delete"),
    path("sla/calendar/refresh/", calendar_refresh, name="calendar_refresh"),
]
