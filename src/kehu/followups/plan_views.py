"""The pages of the follow-up rules (managers, admins): cadence plans and care dates.

Thin: every write is a ``plan_services`` call, every read a ``plan_selectors`` one. A role
that manages no rules gets the 403 page; a rule outside the user's scope the 404 page; one
they see but may not change (the company's, for a manager) opens read-only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.http import AuthedRequest
from kehu.core.access import is_admin
from kehu.core.errors import KehuError
from kehu.core.http import form_errors, raise_refusal
from kehu.core.numbers import posted_version, whole_number
from kehu.customers.models import CustomerStatus, Grade
from kehu.followups import plan_selectors as selectors
from kehu.followups import plan_services as services
from kehu.followups.models import CadencePlan, CareDate, CareKind
from kehu.followups.team_rules import rule_editable

COMPANY = gettext_lazy("Whole company")


def _manager(request: AuthedRequest) -> Any:
    if not services.may_manage(request.user):
        raise PermissionDenied(str(services.NOT_MANAGER))
    return request.user


def _department_field(user: Any) -> forms.ChoiceField:
    choices: list[tuple[str, str]] = []
    if is_admin(user):
        choices.append(("", str(COMPANY)))
    for department in services.department_choices(user):
        depth = max(department.path.count("/") - 2, 0)
        choices.append((str(department.pk), "\u3000" * depth + department.name))
    return forms.ChoiceField(
        label=gettext_lazy("Applies to"),
        choices=choices,
        required=False,
        help_text=gettext_lazy(
            "A department's rules apply to its customers and the departments below it."
        ),
    )


REASON = forms.CharField(
    label=gettext_lazy("Reason for the change"),
    max_length=100,
    required=False,
    help_text=gettext_lazy("Kept in the change history."),
)


class PlanForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    status = forms.ChoiceField(
        label=gettext_lazy("Customer status"),
        choices=[("", gettext_lazy("Any status")), *CustomerStatus.choices],
        required=False,
    )
    grade = forms.ChoiceField(
        label=gettext_lazy("Grade"),
        choices=[("", gettext_lazy("Any grade")), *Grade.choices],
        required=False,
        help_text=gettext_lazy("Choose a status, a grade or both."),
    )
    interval_days = forms.IntegerField(
        label=gettext_lazy("Every (days)"), min_value=1, max_value=services.MAX_INTERVAL_DAYS
    )
    action = forms.CharField(
        label=gettext_lazy("Suggested action"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("e.g. 电话沟通 + 行业资讯"),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
    reason = REASON

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"] = _department_field(user)
        self.order_fields([*PlanForm.base_fields, "department", "reason"])


class CareForm(forms.Form):
    date = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    name = forms.CharField(
        label=gettext_lazy("Name"), max_length=100, help_text=gettext_lazy("e.g. 公司周年庆")
    )
    is_active = forms.BooleanField(
        label=gettext_lazy("Send greetings"), required=False, initial=True
    )
    reason = REASON

    def __init__(self, *args: Any, user: Any, generated: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"] = _department_field(user)
        self.order_fields(["date", "name", "is_active", "department", "reason"])
        if generated:  # only switched on or off (plan_services)
            for name in ("date", "name", "department"):
                self.fields[name].disabled = True


def _data(form: forms.Form) -> tuple[dict[str, Any], str]:
    data = {name: value for name, value in form.cleaned_data.items() if name != "reason"}
    if "department" in data:
        data["department"] = data["department"] or None
    return data, str(form.cleaned_data.get("reason") or "")


def _load(loader: Any, **lookup: Any) -> Any:
    try:
        return loader(**lookup)
    except KehuError as error:
        raise_refusal(error)
        raise


# --- cadence plans ------------------------------------------------------------------------------


@login_required
def plan_list(request: AuthedRequest) -> HttpResponse:
    user = _manager(request)
    plans = selectors.plan_list(user=user)
    rows = [{"plan": plan, "editable": rule_editable(user, plan)} for plan in plans]
    context = {
        "rows": rows,
        "history": selectors.rule_history(user=user, model=CadencePlan),
        "tab": "plans",
    }
    return render(request, "followups/rules/plans.html", context)


@login_required
def plan_edit(request: AuthedRequest, plan_id: int | None = None) -> HttpResponse:
    user = _manager(request)
    plan = _load(selectors.plan_get, user=user, plan_id=plan_id) if plan_id else None
    editable = plan is None or rule_editable(user, plan)
    if request.method == "POST" and not editable:
        raise PermissionDenied(_("You can see this plan but may not change it."))
    initial: dict[str, Any] = {"is_active": True}
    if plan is not None:
        initial = {
            "name": plan.name, "status": plan.status, "grade": plan.grade,
            "interval_days": plan.interval_days, "action": plan.action,
            "is_active": plan.is_active, "department": plan.department_id or "",
        }  # fmt: skip
    elif not is_admin(user) and user.department_id:
        initial["department"] = user.department_id
    form = PlanForm(request.POST if request.method == "POST" else None, initial=initial, user=user)
    if request.method == "POST" and form.is_valid():
        data, reason = _data(form)
        try:
            if plan is None:
                services.cadence_plan_create(actor=user, data=data, reason=reason)
            else:
                services.cadence_plan_update(
                    actor=user,
                    plan_id=plan.pk,
                    data=data,
                    version=posted_version(request),
                    reason=reason,
                )
        except KehuError as error:
            raise_refusal(error)
            form_errors(form, error)
        else:
            messages.success(request, _("Cadence plan saved; the follow-up tasks are re-planned."))
            return redirect("followups:cadence_plans")
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    context = {
        "form": form,
        "object": plan,
        "editable": editable,
        "title": _("Edit cadence plan") if plan else _("New cadence plan"),
        "history": selectors.record_history(rule=plan) if plan else [],
        "tab": "plans",
    }
    return render(request, "followups/rules/plan_form.html", context)


@login_required
def plan_delete(request: AuthedRequest, plan_id: int) -> HttpResponse:
    user = _manager(request)
    plan = _load(selectors.plan_get, user=user, plan_id=plan_id)
    if not rule_editable(user, plan):
        raise PermissionDenied(_("You can see this plan but may not change it."))
    if request.method == "POST":
        try:
            services.cadence_plan_delete(
                actor=user, plan_id=plan.pk, reason=request.POST.get("reason", "")[:100]
            )
        except KehuError as error:
            raise_refusal(error)
            raise
        messages.success(request, _("Cadence plan deleted."))
        return redirect("followups:cadence_plans")
    return render(
        request, "followups/rules/delete.html", {"object": plan, "tab": "plans", "kind": "plan"}
    )


# --- care dates ---------------------------------------------------------------------------------


@login_required
def care_list(request: AuthedRequest) -> HttpResponse:
    user = _manager(request)
    today = timezone.localdate()
    year = whole_number(request.GET.get("year", "")) or today.year
    if not 2000 <= year <= today.year + services.CARE_YEARS:
        year = today.year
    kind = request.GET.get("kind", "")
    if kind not in CareKind.values:
        kind = ""
    filters = selectors.CareFilters(start=date(year, 1, 1), end=date(year, 12, 31), kind=kind)
    cares = list(selectors.care_date_list(user=user, filters=filters))
    context = {
        "rows": [{"care": care, "editable": rule_editable(user, care)} for care in cares],
        "year": year,
        "years": list(range(today.year - 1, today.year + 3)),
        "kind": kind,
        "kinds": CareKind.choices,
        "history": selectors.rule_history(user=user, model=CareDate),
        "tab": "care",
    }
    return render(request, "followups/rules/care_dates.html", context)


@login_required
def care_edit(request: AuthedRequest, care_id: int | None = None) -> HttpResponse:
    user = _manager(request)
    care = _load(selectors.care_date_get, user=user, care_id=care_id) if care_id else None
    editable = care is None or rule_editable(user, care)
    if request.method == "POST" and not editable:
        raise PermissionDenied(_("You can see this date but may not change it."))
    generated = care is not None and care.kind != CareKind.CUSTOM
    initial: dict[str, Any] = {"is_active": True}
    if care is not None:
        initial = {
            "date": care.date, "name": care.name, "is_active": care.is_active,
            "department": care.department_id or "",
        }  # fmt: skip
    elif not is_admin(user) and user.department_id:
        initial["department"] = user.department_id
    form = CareForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        user=user,
        generated=generated,
    )
    if request.method == "POST" and form.is_valid():
        data, reason = _data(form)
        if generated:
            data = {"is_active": data["is_active"]}
        try:
            if care is None:
                services.care_date_create(actor=user, data=data, reason=reason)
            else:
                services.care_date_update(
                    actor=user,
                    care_id=care.pk,
                    data=data,
                    version=posted_version(request),
                    reason=reason,
                )
        except KehuError as error:
            raise_refusal(error)
            form_errors(form, error)
        else:
            messages.success(request, _("Care date saved."))
            return redirect("followups:care_dates")
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    context = {
        "form": form,
        "object": care,
        "editable": editable,
        "generated": generated,
        "title": _("Edit care date") if care else _("New care date"),
        "history": selectors.record_history(rule=care) if care else [],
        "tab": "care",
    }
    return render(request, "followups/rules/care_form.html", context)


@login_required
def care_delete(request: AuthedRequest, care_id: int) -> HttpResponse:
    user = _manager(request)
    care = _load(selectors.care_date_get, user=user, care_id=care_id)
    if not rule_editable(user, care):
        raise PermissionDenied(_("You can see this date but may not change it."))
    if request.method == "POST":
        try:
            services.care_date_delete(
                actor=user, care_id=care.pk, reason=request.POST.get("reason", "")[:100]
            )
        except KehuError as error:
            raise_refusal(error)
            messages.error(request, error.detail)
            return redirect("followups:care_date_edit", care_id=care.pk)
        messages.success(request, _("Care date deleted."))
        return redirect("followups:care_dates")
    return render(
        request, "followups/rules/delete.html", {"object": care, "tab": "care", "kind": "care"}
    )


urlpatterns: list[URLPattern] = [
    path("plans/", plan_list, name="cadence_plans"),
    path("plans/new/", plan_edit, name="cadence_plan_create"),
    path("plans/<int:plan_id>/", plan_edit, name="cadence_plan_edit"),
    path("plans/<int:plan_id>/delete/", plan_delete, name="cadence_plan_delete"),
    path("care-dates/", care_list, name="care_dates"),
    path("care-dates/new/", care_edit, name="care_date_create"),
    path("care-dates/<int:care_id>/", care_edit, name="care_date_edit"),
    path("care-dates/<int:care_id>/delete/", care_delete, name="care_date_delete"),
]
