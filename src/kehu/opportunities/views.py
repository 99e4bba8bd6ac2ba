"""The pipeline UI: board, list, detail, forms, forecast, funnel, weekly review, stage settings.

Views parse input, call one selector or service and render; service errors become form errors
or messages.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import Department
from kehu.core import custom_fields
from kehu.core.access import get_editable_or_404, is_admin, managed_department_ids, policy_of
from kehu.core.errors import KehuError
from kehu.core.formatting import money_unit_of
from kehu.core.history import history_entries
from kehu.core.http import error_message, form_errors, htmx_template
from kehu.core.numbers import whole_number
from kehu.core.pagination import bounded_page
from kehu.customers.models import SavedFilter
from kehu.customers.selectors import saved_filters
from kehu.opportunities import forecast_sections, sections, selectors, services
from kehu.opportunities.forms import (
    AttachmentForm,
    LoseForm,
    LossReasonForm,
    OpportunityForm,
    StageForm,
    WorkflowRuleForm,
    owner_choices,
)
from kehu.opportunities.models import (
    Attachment,
    LossReason,
    Opportunity,
    Stage,
    StageKind,
    WorkflowRule,
)

PAGE_SIZE = 50


def _department_choices(user: Any) -> QuerySet[Department]:
    if is_admin(user):
        return Department.objects.all()
    return Department.objects.filter(pk__in=managed_department_ids(user))


def _filters(request: HttpRequest) -> tuple[selectors.OpportunityFilters, dict[str, list[str]]]:
    try:
        return selectors.OpportunityFilters.parse(request.GET), {}
    except KehuError as error:
        return selectors.OpportunityFilters(), error.errors


def _filter_context(
    request: AuthedRequest, filters: selectors.OpportunityFilters
) -> dict[str, Any]:
    return {
        "filters": filters,
        "filter_query": filters.as_query(),
        "owners": list(owner_choices(request.user).order_by("username")),
        "departments": list(_department_choices(request.user)),
        "stages": selectors.stage_list(),
        "custom_filters": custom_fields.filter_inputs(
            request.user, custom_fields.fields_for("opportunity", request.user), filters.cf
        ),
        "saved_filters": saved_filters(
            user=request.user, list_name=SavedFilter.ListName.OPPORTUNITIES
        ),
    }


def _board_columns(
    request: AuthedRequest, filters: selectors.OpportunityFilters
) -> list[selectors.BoardColumn]:
    columns = selectors.opportunity_board(user=request.user, filters=filters)
    for column in columns:
        column.list_query = urlencode({**filters.as_query(), "stage": column.stage.code})
    return columns


@login_required
def board(request: AuthedRequest) -> HttpResponse:
    filters, errors = _filters(request)
    context = {
        **_filter_context(request, filters),
        "columns": _board_columns(request, filters),
        "filter_errors": errors,
        "won_days": selectors.WON_ON_BOARD_DAYS,
    }
    template = htmx_template(request, "opportunities/board.html", "opportunities/_board.html")
    return render(request, template, context)


@login_required
def opportunity_list(request: AuthedRequest) -> HttpResponse:
    filters, errors = _filters(request)
    stages = selectors.ListStages.read()
    rows = selectors.opportunity_rows(
        user=request.user, open_stage_ids=stages.open_ids, filters=filters
    )
    page = bounded_page(rows.order_by("expected_close", "-id"), PAGE_SIZE, request.GET.get("page"))
    page.object_list = [stages.attach(row) for row in page.object_list]
    custom = custom_fields.list_columns("opportunity", request.user, filters.columns, filters.cf)
    # amount_visible: the user has full access to the row (its sensitive values unmasked)
    cells = custom.cells(page.object_list, lambda row: not row.amount_visible)
    for row, row_cells in zip(page.object_list, cells, strict=True):
        row.custom_cells = row_cells
    context = {
        **_filter_context(request, filters),
        **custom.context(),
        "page": page,
        "filter_errors": errors,
    }
    return render(request, "opportunities/list.html", context)


@login_required
def opportunity_create(request: AuthedRequest) -> HttpResponse:
    if not services.opportunity_may_create(request.user):
        raise PermissionDenied(_("Your role may not create opportunities."))
    form = OpportunityForm(
        request.POST or None,
        user=request.user,
        initial={"customer": request.GET.get("customer"), "owner": request.user.pk},
        custom_specs=custom_fields.editable_fields("opportunity", request.user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            opportunity = services.opportunity_create(
                actor=request.user,
                customer=form.cleaned_data["customer"],
                data=form.service_data(),
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Opportunity created."))
            return redirect("opportunities:detail", opportunity.pk)
    return render(request, "opportunities/form.html", {"form": form, "title": _("New opportunity")})


@login_required
def opportunity_detail(request: AuthedRequest, opportunity_id: int) -> HttpResponse:
    opportunity = selectors.opportunity_get(user=request.user, opportunity_id=opportunity_id)
    stages = selectors.stage_list()
    hidden = policy_of(Opportunity).masked_fields(request.user, opportunity)
    next_stage = next(
        (
            stage
            for stage in stages
            if stage.order > opportunity.stage.order and stage.kind != StageKind.LOST
        ),
        None,
    )
    next_missing = (
        services.missing_requirements(opportunity, next_stage)
        if next_stage and opportunity.is_open
        else {}
    )
    context = {
        "opportunity": opportunity,
        "amount_hidden": "amount" in hidden,
        "custom_values": custom_fields.shown_rows(
            "opportunity",
            request.user,
            opportunity.custom,
            masked=custom_fields.masked_for(request.user, opportunity),
        ),
        "negotiation_hidden": "floor_price" in hidden,
        "can_edit": selectors.opportunity_editable(
            user=request.user, opportunity_id=opportunity.pk
        ),
        "stages": [stage for stage in stages if stage.kind != StageKind.LOST],
        "next_stage": next_stage,
        "next_checklist": [
            (code, label, code not in next_missing)
            for code, label in zip(
                next_stage.requirements if next_stage else [],
                next_stage.requirement_labels if next_stage else [],
                strict=True,
            )
        ],
        "probability_basis": selectors.probability_basis(opportunity.stage),
        "stage_history": selectors.stage_history(opportunity=opportunity),
        "attachments": list(opportunity.attachments.select_related("uploaded_by")),
        "history": history_entries(
            opportunity.history.all(), hidden_fields=frozenset(hidden), user=request.user
        ),
        "lose_form": LoseForm(),
        "attachment_form": AttachmentForm(),
        "deal_sections": sections.rendered_for(opportunity, request.user),
    }
    return render(request, "opportunities/detail.html", context)


@login_required
def opportunity_edit(request: AuthedRequest, opportunity_id: int) -> HttpResponse:
    opportunity = get_editable_or_404(
        selectors.opportunity_list(user=request.user), request.user, pk=opportunity_id
    )
    initial = {
        name: getattr(opportunity, name)
        for name in (
            "name",
            "owner",
            "currency",
            "expected_close",
            "source",
            "needs",
            "competitors",
            "next_step",
            "concessions",
        )
    }
    initial["amount"] = "" if opportunity.amount is None else opportunity.amount
    initial["floor_price"] = "" if opportunity.floor_price is None else opportunity.floor_price
    hidden = policy_of(Opportunity).masked_fields(request.user, opportunity)
    form = OpportunityForm(
        request.POST or None,
        user=request.user,
        editing=True,
        hidden_fields=hidden,
        initial={name: value for name, value in initial.items() if name not in hidden},
        custom_specs=custom_fields.editable_fields(
            "opportunity",
            request.user,
            masked=custom_fields.masked_for(request.user, opportunity),
        ),
        custom=opportunity.custom,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_update(
                actor=request.user,
                opportunity=opportunity,
                data=form.service_data(),
                version=_version(request),
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Opportunity saved."))
            return redirect("opportunities:detail", opportunity.pk)
    return render(
        request,
        "opportunities/form.html",
        {"form": form, "title": opportunity.name, "opportunity": opportunity},
    )


def _version(request: HttpRequest) -> int | None:
    return whole_number(request.POST.get("version"))


def _action(request: AuthedRequest, opportunity_id: int, action: Any) -> HttpResponseRedirect:
    opportunity = get_editable_or_404(Opportunity.objects.all(), request.user, pk=opportunity_id)
    try:
        action(opportunity)
    except KehuError as error:
        # a refused stage move's detail lists what each stage lacks; the per-field copies of
        # error_message would repeat it
        missing = error.code == "stage_requirements"
        messages.error(request, error.detail if missing else error_message(error))
    return redirect("opportunities:detail", opportunity_id)


@login_required
@require_POST
def opportunity_move(request: AuthedRequest, opportunity_id: int) -> HttpResponse:
    def move(opportunity: Opportunity) -> None:
        services.opportunity_move_stage(
            actor=request.user,
            opportunity=opportunity,
            stage=request.POST.get("stage", ""),
            version=_version(request),
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, _("Stage changed."))

    return _action(request, opportunity_id, move)


@login_required
@require_POST
def opportunity_win(request: AuthedRequest, opportunity_id: int) -> HttpResponse:
    def win(opportunity: Opportunity) -> None:
        services.opportunity_win(
            actor=request.user,
            opportunity=opportunity,
            version=_version(request),
        )
        messages.success(request, _("Deal won. The customer is now a won customer."))

    return _action(request, opportunity_id, win)


@login_required
@require_POST
def opportunity_lose(request: AuthedRequest, opportunity_id: int) -> HttpResponse:
    form = LoseForm(request.POST)

    def lose(opportunity: Opportunity) -> None:
        if not form.is_valid():
            messages.error(request, _("Choose a reason from the list."))
            return
        services.opportunity_lose(
            actor=request.user,
            opportunity=opportunity,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            version=_version(request),
        )
        messages.success(request, _("Deal marked as lost."))

    return _action(request, opportunity_id, lose)


@login_required
@require_POST
def opportunity_delete(request: AuthedRequest, opportunity_id: int) -> HttpResponse:
    opportunity = get_editable_or_404(Opportunity.objects.all(), request.user, pk=opportunity_id)
    try:
        services.opportunity_delete(actor=request.user, opportunity=opportunity)
    except KehuError as error:
        messages.error(request, error_message(error))
        return redirect("opportunities:detail", opportunity_id)
    messages.success(request, _("Opportunity deleted."))
    return redirect("opportunities:list")


@login_required
@require_POST
def attachment_add(request: AuthedRequest, opportunity_id: int) -> HttpResponse:
    form = AttachmentForm(request.POST, request.FILES)

    def add(opportunity: Opportunity) -> None:
        if not form.is_valid():
            messages.error(request, _("Choose a file and its kind."))
            return
        services.attachment_add(
            actor=request.user,
            opportunity=opportunity,
            kind=form.cleaned_data["kind"],
            file=form.cleaned_data["file"],
        )
        messages.success(request, _("Attachment added."))

    return _action(request, opportunity_id, add)


@login_required
def attachment_download(request: AuthedRequest, attachment_id: int) -> FileResponse:
    attachment = get_object_or_404(Attachment, pk=attachment_id)
    selectors.opportunity_get(user=request.user, opportunity_id=attachment.opportunity_id)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    return FileResponse(handle, as_attachment=True, filename=attachment.name)


@login_required
def review(request: AuthedRequest) -> HttpResponse:
    stages = selectors.ListStages.read()
    stalled = selectors.stalled_list(user=request.user, stages=stages)
    page = bounded_page(stalled, PAGE_SIZE, request.GET.get("page"))
    now = timezone.now()
    page.object_list = [stages.attach(row) for row in page.object_list]
    for row in page.object_list:
        row.days_in_stage = (now - row.stage_entered_at).days
    return render(request, "opportunities/review.html", {"page": page})


def _date_param(request: HttpRequest, name: str) -> date | None:
    raw = request.GET.get(name, "")
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@login_required
def forecast(request: AuthedRequest) -> HttpResponse:
    period = request.GET.get("period", "month")
    group = request.GET.get("group", "owner")
    try:
        result = selectors.forecast(
            user=request.user,
            period=period,
            group=group,
            start=_date_param(request, "start"),
            end=_date_param(request, "end"),
        )
    except KehuError as error:
        messages.error(request, error_message(error))
        result = selectors.forecast(user=request.user)
    totals = result.totals_by_period()
    chart = {
        "periods": [row.period for row in totals],
        "series": {
            "pipeline": [float(row.pipeline) for row in totals],
            "weighted": [float(row.weighted) for row in totals],
            "best_case": [float(row.best_case) for row in totals],
            "committed": [float(row.committed) for row in totals],
            "won": [float(row.won) for row in totals],
        },
        "labels": {
            "pipeline": pgettext("forecast", "Pipeline"),
            "weighted": _("Weighted"),
            "best_case": _("Best case"),
            "committed": _("Committed"),
            "won": _("Won"),
        },
        "unit": money_unit_of(request.user),
    }
    context = {
        "forecast": result,
        "totals": totals,
        "chart": chart,
        "forecast_sections": forecast_sections.rendered_for(request.user, result.start, result.end),
    }
    return render(request, "opportunities/forecast.html", context)


@login_required
def funnel(request: AuthedRequest) -> HttpResponse:
    today = timezone.localdate()
    start = _date_param(request, "start") or today.replace(month=1, day=1)
    end = _date_param(request, "end") or today
    try:
        steps = selectors.funnel(user=request.user, start=start, end=end)
    except KehuError as error:
        messages.error(request, error_message(error))
        start, end = today.replace(month=1, day=1), today
        steps = selectors.funnel(user=request.user, start=start, end=end)
    chart = {
        "steps": [
            {"name": step.stage.label, "value": step.count, "amount": float(step.amount)}
            for step in steps
        ],
        "labels": {"count": _("Deals"), "amount": _("Amount")},
        "unit": money_unit_of(request.user),
    }
    return render(
        request,
        "opportunities/funnel.html",
        {"steps": steps, "start": start, "end": end, "chart": chart},
    )


# --- administration: stages and workflow rules -------------------------------------------------


def _admin_only(request: AuthedRequest) -> None:
    if not is_admin(request.user):
        raise PermissionDenied


@login_required
def settings_home(request: AuthedRequest) -> HttpResponse:
    _admin_only(request)
    context = {
        "stages": selectors.stage_list(include_inactive=True),
        "rules": list(WorkflowRule.objects.select_related("stage", "notify_user")),
        "loss_reasons": list(LossReason.objects.all()),
    }
    return render(request, "opportunities/settings.html", context)


@login_required
def stage_edit(request: AuthedRequest, stage_id: int | None = None) -> HttpResponse:
    _admin_only(request)
    stage = get_object_or_404(Stage, pk=stage_id) if stage_id else Stage()
    form = StageForm(request.POST or None, instance=stage)
    if request.method == "POST" and form.is_valid():
        try:
            services.stage_save(actor=request.user, stage=form.save(commit=False))
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Stage saved."))
            return redirect("opportunities:settings")
    return render(
        request,
        "opportunities/settings_form.html",
        {"form": form, "title": stage.label if stage.pk else _("New stage")},
    )


@login_required
def rule_edit(request: AuthedRequest, rule_id: int | None = None) -> HttpResponse:
    _admin_only(request)
    rule = get_object_or_404(WorkflowRule, pk=rule_id) if rule_id else WorkflowRule()
    form = WorkflowRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            services.workflow_rule_save(actor=request.user, rule=form.save(commit=False))
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Rule saved."))
            return redirect("opportunities:settings")
    return render(
        request,
        "opportunities/settings_form.html",
        {"form": form, "title": rule.name if rule.pk else _("New workflow rule")},
    )


@login_required
def loss_reason_edit(request: AuthedRequest, reason_id: int | None = None) -> HttpResponse:
    _admin_only(request)
    reason = get_object_or_404(LossReason, pk=reason_id) if reason_id else LossReason()
    form = LossReasonForm(request.POST or None, instance=reason)
    if request.method == "POST" and form.is_valid():
        try:
            services.loss_reason_save(actor=request.user, reason=form.save(commit=False))
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Loss reason saved."))
            return redirect("opportunities:settings")
    return render(
        request,
        "opportunities/settings_form.html",
        {"form": form, "title": reason.label if reason.pk else _("New loss reason")},
    )
