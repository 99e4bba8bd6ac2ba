"""The targets pages: the list with progress, and set, change and delete (managers, admins).

Thin: every write is a ``services.targets`` call; the list's progress comes from
``selectors.targets``.
"""

from __future__ import annotations

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
from kehu.analytics.models import Measure, Newness, PeriodKind, Target
from kehu.analytics.selectors import targets as selectors
from kehu.analytics.selectors.filters import filter_choices
from kehu.analytics.services import targets as services
from kehu.analytics.views.reports import filter_context, report_filters
from kehu.core.errors import KehuError
from kehu.core.http import form_errors, raise_refusal
from kehu.core.numbers import posted_version
from kehu.customers.models import CustomerKind, EmployeesBand


class TargetForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("e.g. 本季度新增制造业中小企业"),
    )
    period_kind = forms.ChoiceField(
        label=gettext_lazy("Period"), choices=PeriodKind.choices, initial=PeriodKind.QUARTER
    )
    start = forms.DateField(
        label=gettext_lazy("Start"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Any day of the month, quarter or year: the period is filled in."),
    )
    end = forms.DateField(
        label=gettext_lazy("End"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Only for a custom period."),
    )
    department = forms.ChoiceField(label=gettext_lazy("Department"), required=False)
    owner = forms.ChoiceField(
        label=gettext_lazy("Rep"),
        required=False,
        help_text=gettext_lazy("Leave empty for the department's target."),
    )
    measure = forms.ChoiceField(label=gettext_lazy("Measure"), choices=Measure.choices)
    value = forms.DecimalField(
        label=gettext_lazy("Target value"), max_digits=14, decimal_places=2, min_value=0
    )
    industry = forms.ChoiceField(label=gettext_lazy("Industry"), required=False)
    region = forms.ChoiceField(label=gettext_lazy("Region"), required=False)
    customer_kind = forms.ChoiceField(
        label=gettext_lazy("Customer type"),
        required=False,
        choices=[("", gettext_lazy("Any type")), *CustomerKind.choices],
    )
    size_bands = forms.MultipleChoiceField(
        label=gettext_lazy("Company sizes"),
        required=False,
        choices=EmployeesBand.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("中小企业: under 50 and 50-300 employees."),
    )
    newness = forms.ChoiceField(
        label=gettext_lazy("New or existing"), required=False, choices=Newness.choices
    )
    parent = forms.ChoiceField(
        label=gettext_lazy("Part of"),
        required=False,
        help_text=gettext_lazy("e.g. 其中华东区20家 is a part of the 30 new customers."),
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        max_length=500,
        required=False,
        widget=forms.Textarea({"rows": 2}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = filter_choices(user)
        field: Any = self.fields["department"]
        field.choices = [("", "—"), *choices["departments"]]
        field = self.fields["owner"]
        field.choices = [("", "—"), *choices["owners"]]
        field = self.fields["industry"]
        field.choices = [("", _("All industries")), *choices["industries"]]
        field = self.fields["region"]
        field.choices = [("", _("All regions")), *choices["regions"]]
        field = self.fields["parent"]
        field.choices = [
            ("", "—"),
            *(
                (str(t.pk), f"{t} ({selectors.scope_label(t)}, {t.start}–{t.end})")
                for t in Target.objects.visible_to(user)
                .filter(services.editable_q(user), parent__isnull=True)
                .select_related("owner", "department")
                .order_by("-start", "id")[:200]
            ),
        ]


def _initial(target: Target) -> dict[str, Any]:
    return {
        "name": target.name, "period_kind": target.period_kind, "start": target.start,
        "end": target.end, "department": target.department_id or "",
        "owner": target.owner_id or "", "measure": target.measure, "value": target.value,
        "industry": target.industry_id or "", "region": target.region,
        "customer_kind": target.customer_kind, "size_bands": target.size_bands,
        "newness": target.newness, "parent": target.parent_id or "", "notes": target.notes,
    }  # fmt: skip


def _visible(user: Any, target_id: int) -> Target:
    """The target, or the 404 page when it is outside the user's scope."""
    try:
        return selectors.target_for(user=user, target_id=target_id)
    except KehuError as error:
        raise_refusal(error)
        raise


def _editable(user: Any, target_id: int) -> Target:
    """The target to change: 404 outside the user's scope, 403 when they may only read it."""
    target = _visible(user, target_id)
    if not Target.objects.filter(services.editable_q(user), pk=target_id).exists():
        raise PermissionDenied(_("You can see this target but may not change it."))
    return target


def _setter(request: AuthedRequest) -> Any:
    if not services.may_set(request.user):
        raise PermissionDenied(_("Only managers and administrators set targets."))
    return request.user


@login_required
def target_list(request: AuthedRequest) -> HttpResponse:
    filters = report_filters(request)
    targets = selectors.visible_targets(
        user=request.user,
        start=filters.start,
        end=filters.end,
        department_id=filters.department_id,
        owner_id=filters.owner_id,
    )
    rows = selectors.progress_rows(user=request.user, targets=targets)
    editable: set[int] = set()
    if services.may_set(request.user) and targets:
        editable = set(
            Target.objects.filter(services.editable_q(request.user))
            .filter(pk__in=[t.pk for t in targets])
            .values_list("pk", flat=True)
        )
    for row in rows:
        row["editable"] = row["id"] in editable
        row["bar"] = min(row["attainment_pct"] or 0, 100)
    context = {
        "rows": rows,
        "may_set": services.may_set(request.user),
        **filter_context(request, filters),
    }
    return render(request, "analytics/targets/list.html", context)


def _data(form: TargetForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    for name in ("department", "owner", "parent"):
        data[name] = data.get(name) or None
    return data


@login_required
def target_edit(request: AuthedRequest, target_id: int | None = None) -> HttpResponse:
    user = _setter(request) if target_id is None else request.user
    target = None
    if target_id is not None:
        target = _editable(user, target_id)
    initial = _initial(target) if target is not None else {"start": timezone.localdate()}
    form = TargetForm(
        request.POST if request.method == "POST" else None, initial=initial, user=user
    )
    if request.method == "POST" and form.is_valid():
        try:
            if target is None:
                services.target_create(actor=user, data=_data(form))
            else:
                services.target_update(
                    actor=user,
                    target_id=target.pk,
                    data=_data(form),
                    version=posted_version(request),
                )
        except KehuError as error:
            raise_refusal(error)
            form_errors(form, error)
        else:
            messages.success(request, _("Target saved."))
            return redirect("analytics:targets")
    title = _("Edit target") if target else _("New target")
    context = {"form": form, "object": target, "title": title}
    return render(request, "analytics/targets/form.html", context)


@login_required
def target_delete(request: AuthedRequest, target_id: int) -> HttpResponse:
    user = request.user
    target = _editable(user, target_id)
    if request.method == "POST":
        try:
            services.target_delete(actor=user, target_id=target.pk)
        except KehuError as error:
            raise_refusal(error)
            raise
        messages.success(request, _("Target deleted."))
        return redirect("analytics:targets")
    return render(request, "analytics/targets/delete.html", {"object": target})


urlpatterns: list[URLPattern] = [
    path("targets/", target_list, name="targets"),
    path("targets/new/", target_edit, name="target_create"),
    path("targets/<int:target_id>/", target_edit, name="target_edit"),
    path("targets/<int:target_id>/delete/", target_delete, name="target_delete"),
]
