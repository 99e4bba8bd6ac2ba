"""The leads UI: pool, my leads (SLA countdowns), review queue, rule editor, web forms,
conversion dialog, and the public web-to-lead form. Thin: every write is a service call."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core import custom_fields, links
from kehu.core.access import get_editable_or_404, policy_of
from kehu.core.errors import Forbidden, InvalidInput, KehuError, NotFound
from kehu.core.http import error_message, form_errors, htmx_template, is_htmx
from kehu.core.numbers import posted_version
from kehu.core.pagination import bounded_page
from kehu.customers.models import SavedFilter
from kehu.customers.selectors import saved_filters
from kehu.customers.services import DuplicateCustomer
from kehu.leads import page_links, selectors, services
from kehu.leads.forms import (
    AssignForm,
    ConvertForm,
    InvalidateForm,
    LeadForm,
    PublicLeadForm,
    ReviewForm,
    RuleForm,
    WebFormForm,
)
from kehu.leads.models import AssignmentRule, Lead, LeadStatus, WebForm

PAGE_SIZE = 50
TAB_LABELS = {
    "all": gettext_lazy("All leads"),
    "pool": gettext_lazy("Lead pool"),
    "mine": gettext_lazy("My leads"),
    "review": gettext_lazy("Review queue"),
    "overdue": gettext_lazy("Overdue"),
}


# --- Lists -----------------------------------------------------------------------------------
@login_required
def lead_list(request: AuthedRequest, view: str = "all") -> HttpResponse:
    user = request.user
    if view not in selectors.VIEWS:
        raise Http404(view)
    try:
        query = request.GET.copy()
        query["view"] = view  # the tab comes from the path, not the query string
        filters = selectors.LeadFilters.from_querydict(query)
    except ValidationError:  # a hand-edited query string: the list unfiltered, as before
        filters = selectors.LeadFilters.model_validate({"view": view})
    page = bounded_page(
        selectors.lead_list(user=user, filters=filters), PAGE_SIZE, request.GET.get("page")
    )
    selectors.show_contacts(user, page.object_list)
    tabs = [(name, TAB_LABELS[name]) for name in selectors.lead_list_views(user=user)]
    custom = custom_fields.list_columns("lead", user, filters.columns, filters.cf)
    policy = policy_of(Lead)
    masked = lambda lead: not policy.has_full_access(user, lead)  # noqa: E731
    for lead, cells in zip(
        page.object_list, custom.labelled(page.object_list, masked), strict=True
    ):
        lead.custom_cells = cells
    context = {
        **custom.context(),
        "page": page,
        "view": view,
        "tabs": tabs,
        "filters": filters,
        "statuses": LeadStatus.choices,
        "can_capture": services.lead_may_capture(user),
        "can_manage": services.leads_may_plan(user),
        "may_edit_rules": services.rules_may_edit(user),
        "saved_filters": saved_filters(user=user, list_name=SavedFilter.ListName.LEADS),
    }
    return render(request, htmx_template(request, "leads/list.html", "leads/_table.html"), context)


@login_required
def lead_mine(request: AuthedRequest) -> HttpResponse:
    return lead_list(request, view="mine")


@login_required
def lead_review_queue(request: AuthedRequest) -> HttpResponse:
    if not services.lead_may_review(request.user):
        raise PermissionDenied
    return lead_list(request, view="review")


# --- Capture and edit ------------------------------------------------------------------------
@login_required
def lead_create(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if not services.lead_may_capture(user):
        raise PermissionDenied
    form = LeadForm(
        request.POST if request.method == "POST" else None,
        custom_specs=custom_fields.editable_fields("lead", user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_capture(actor=user, data=form.service_data())
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Lead captured."))
            if selectors.lead_is_visible(user=user, lead_id=lead.pk):
                return redirect("leads:detail", lead.pk)
            return redirect("leads:list")
    return render(request, "leads/form.html", {"form": form, "title": _("New lead")})


@login_required
def lead_edit(request: AuthedRequest, lead_id: int) -> HttpResponse:
    user = request.user
    lead = get_editable_or_404(Lead.objects.all(), user, pk=lead_id)
    initial = {
        name: getattr(lead, name) for name in LeadForm.base_fields if name not in ("priority",)
    }
    initial["priority"] = lead.priority if lead.priority_manual else ""
    # Who sees masked numbers edits everything else: the stored numbers stay as they are.
    hidden = selectors.CONTACT_FIELDS if selectors.lead_contact(user, lead)["masked"] else ()
    form = LeadForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        hidden_fields=hidden,
        custom_specs=custom_fields.editable_fields(
            "lead", user, masked=custom_fields.masked_for(user, lead)
        ),
        custom=lead.custom,
    )
    if request.method == "POST" and form.is_valid():
        changes = form.service_data(changed_only=True)
        try:
            services.lead_update(
                actor=user, lead=lead, changes=changes, version=posted_version(request)
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Lead saved."))
            return redirect("leads:detail", lead.pk)
    context = {"form": form, "title": _("Edit lead"), "lead": lead}
    return render(request, "leads/form.html", context)


# --- Detail and actions ----------------------------------------------------------------------
def _detail_context(request: AuthedRequest, lead: Lead, **forms: Any) -> dict[str, Any]:
    user = request.user
    return {
        "lead": lead,
        "events": selectors.lead_events(lead=lead)[:100],
        "masked": policy_of(Lead).masked_fields(user, lead),
        "custom_values": custom_fields.shown_rows(
            "lead", user, lead.custom, masked=custom_fields.masked_for(user, lead)
        ),
        "contact": selectors.lead_contact(user, lead),
        "may_act": services.lead_may_act(user, lead),
        "may_manage": services.lead_may_manage(user, lead),
        "may_convert": services.lead_may_convert(user, lead),
        "may_edit": services.lead_may_edit(user, lead),
        "may_review": services.lead_may_review(user),
        "assign_form": forms.get("assign_form")
        or AssignForm(assignees=selectors.assignable_users(user=user)),
        "invalidate_form": forms.get("invalidate_form") or InvalidateForm(),
        "review_form": forms.get("review_form") or ReviewForm(),
        "history_url": _history_url(lead),
        "page_links": page_links.links_for(lead, user),
    }


def _history_url(lead: Lead) -> str:
    try:
        return reverse("core:history", args=["leads.Lead", lead.pk])
    except Exception:
        return ""


@login_required
def lead_detail(request: AuthedRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_get(user=request.user, lead_id=lead_id)
    return render(request, "leads/detail.html", _detail_context(request, lead))


def _action_done(request: AuthedRequest, lead: Lead, text: str) -> HttpResponse:
    messages.success(request, text)
    if selectors.lead_is_visible(user=request.user, lead_id=lead.pk):
        return redirect("leads:detail", lead.pk)
    return redirect("leads:list")


def _action_failed(
    request: AuthedRequest, lead: Lead, error: KehuError, **forms: Any
) -> HttpResponse:
    if isinstance(error, Forbidden) or not forms:
        messages.error(request, error_message(error))
    for form in forms.values():
        form_errors(form, error)
    lead = selectors.lead_get(user=request.user, lead_id=lead.pk)
    return render(
        request, "leads/detail.html", _detail_context(request, lead, **forms), status=error.status
    )


@login_required
@require_POST
def lead_confirm(request: AuthedRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_get(user=request.user, lead_id=lead_id)
    try:
        services.lead_confirm(actor=request.user, lead=lead, note=request.POST.get("note", ""))
    except KehuError as error:
        return _action_failed(request, lead, error)
    return _action_done(request, lead, _("Lead confirmed as contactable."))


@login_required
@require_POST
def lead_invalidate(request: AuthedRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_get(user=request.user, lead_id=lead_id)
    form = InvalidateForm(request.POST)
    if not form.is_valid():
        return _action_failed(request, lead, InvalidInput(errors={}), invalidate_form=form)
    try:
        services.lead_invalidate(actor=request.user, lead=lead, **form.cleaned_data)
    except KehuError as error:
        return _action_failed(request, lead, error, invalidate_form=form)
    return _action_done(request, lead, _("Lead sent to the review queue."))


@login_required
@require_POST
def lead_assign(request: AuthedRequest, lead_id: int) -> HttpResponse:
    user = request.user
    lead = selectors.lead_get(user=user, lead_id=lead_id)
    form = AssignForm(request.POST, assignees=selectors.assignable_users(user=user))
    if not form.is_valid():
        return _action_failed(request, lead, InvalidInput(errors={}), assign_form=form)
    try:
        services.lead_assign(
            actor=user,
            lead=lead,
            assignee=form.cleaned_data["assignee"],
            note=form.cleaned_data["note"],
        )
    except KehuError as error:
        return _action_failed(request, lead, error, assign_form=form)
    return _action_done(request, lead, _("Lead assigned."))


@login_required
@require_POST
def lead_review(request: AuthedRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_get(user=request.user, lead_id=lead_id)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _action_failed(request, lead, InvalidInput(errors={}), review_form=form)
    try:
        services.lead_review(actor=request.user, lead=lead, **form.cleaned_data)
    except KehuError as error:
        return _action_failed(request, lead, error, review_form=form)
    return _action_done(request, lead, _("Review saved."))


@login_required
def lead_convert(request: AuthedRequest, lead_id: int) -> HttpResponse:
    """The conversion dialog: create a customer, or link to a duplicate the check found."""
    user = request.user
    lead = selectors.lead_get(user=user, lead_id=lead_id)
    form = ConvertForm(
        request.POST if request.method == "POST" else None,
        initial={"opportunity_name": _("%(lead)s: first contact") % {"lead": lead}},
    )
    matches: list[dict[str, Any]] = []
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_convert(actor=user, lead=lead, **form.cleaned_data)
        except DuplicateCustomer as duplicate:
            matches = duplicate.extra.get("matches", [])
            status = 409
        except KehuError as error:
            form_errors(form, error)
            status = error.status
        else:
            messages.success(request, _("Lead converted into a customer."))
            target = reverse("leads:detail", args=[lead.pk])
            if is_htmx(request):
                return HttpResponse(status=204, headers={"HX-Redirect": target})
            return redirect(target)
    context = {
        "lead": lead,
        "form": form,
        "matches": matches,
        "contact": selectors.lead_contact(user, lead),
    }
    template = htmx_template(request, "leads/convert.html", "leads/_convert.html")
    return render(request, template, context, status=status)


# --- Rules -----------------------------------------------------------------------------------
def _admin_only(request: AuthedRequest) -> User:
    user = request.user
    if not services.rules_may_edit(user):
        raise PermissionDenied
    return user


@login_required
def rule_list(request: AuthedRequest) -> HttpResponse:
    _admin_only(request)
    context = {
        "rules": selectors.rule_list(),
        "priority_rules": selectors.priority_rule_list(),
        "runs": selectors.recent_runs(),
    }
    return render(request, "leads/rules.html", context)


def _rule_initial(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "name": rule.name, "is_active": rule.is_active, "region_codes": rule.region_codes,
        "industry_codes": rule.industry_codes, "sources": rule.sources,
        "priorities": rule.priorities, "department": rule.department_id,
        "reps": [user.pk for user in rule.reps.all()],
    }  # fmt: skip


@login_required
def rule_edit(request: AuthedRequest, rule_id: int | None = None) -> HttpResponse:
    user = _admin_only(request)
    rule = get_object_or_404(AssignmentRule, pk=rule_id) if rule_id else None
    form = RuleForm(
        request.POST if request.method == "POST" else None,
        initial=_rule_initial(rule) if rule else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                services.rule_create(actor=user, data=form.service_data())
            else:
                services.rule_update(
                    actor=user,
                    rule=rule,
                    data=form.service_data(),
                    version=posted_version(request),
                )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Rule saved."))
            return redirect("leads:rules")
    title = _("Edit rule") if rule else _("New rule")
    return render(request, "leads/rule_form.html", {"form": form, "rule": rule, "title": title})


@login_required
@require_POST
def rule_delete(request: AuthedRequest, rule_id: int) -> HttpResponse:
    user = _admin_only(request)
    services.rule_delete(actor=user, rule=get_object_or_404(AssignmentRule, pk=rule_id))
    messages.success(request, _("Rule deleted."))
    return redirect("leads:rules")


@login_required
@require_POST
def rule_move(request: AuthedRequest, rule_id: int) -> HttpResponse:
    """Move a rule one place up or down (the order decides which rule wins)."""
    user = _admin_only(request)
    try:
        services.rule_move(actor=user, rule_id=rule_id, up=request.POST.get("direction") == "up")
    except NotFound as missing:
        raise Http404(missing.what) from missing
    return redirect("leads:rules")


@login_required
def dry_run(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if not services.leads_may_plan(user):
        raise PermissionDenied
    leads = selectors.pooled_leads(user=user)
    rows = list(zip(leads, services.assignment_dry_run(actor=user, leads=leads), strict=True))
    return render(request, "leads/dry_run.html", {"rows": rows})


@login_required
@require_POST
def run_batch(request: AuthedRequest) -> HttpResponse:
    user = _admin_only(request)
    run = services.assignment_batch(actor=user)
    messages.success(
        request,
        _("%(assigned)d of %(considered)d pooled leads were assigned.")
        % {"assigned": run.assigned, "considered": run.considered},
    )
    return redirect("leads:rules")


# --- Web forms -------------------------------------------------------------------------------
def _form_admin(request: AuthedRequest) -> User:
    user = request.user
    if not services.web_forms_may_manage(user):
        raise PermissionDenied
    return user


@login_required
def web_form_list(request: AuthedRequest) -> HttpResponse:
    user = _form_admin(request)
    form = WebFormForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            web_form = services.web_form_create(actor=user, data=form.cleaned_data)
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Web form created."))
            return redirect("leads:web_form", web_form.pk)
    context = {"forms": selectors.web_form_list(user=user), "form": form}
    return render(request, "leads/web_forms.html", context)


@login_required
def web_form_detail(request: AuthedRequest, form_id: int) -> HttpResponse:
    user = _form_admin(request)
    web_form = get_object_or_404(selectors.web_form_list(user=user), pk=form_id)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "rotate":
            services.web_form_rotate_secret(actor=user, form=web_form)
            messages.success(request, _("A new secret was issued; update the embedded form."))
        elif action == "toggle":
            services.web_form_update(
                actor=user, form=web_form, data={"is_active": not web_form.is_active}
            )
        return redirect("leads:web_form", web_form.pk)
    endpoint = links.absolute(reverse("leads:public_form", args=[web_form.key]), request=request)
    snippet = render(
        request, "leads/embed_snippet.html", {"web_form": web_form, "endpoint": endpoint}
    ).content.decode()
    leads = selectors.visible_lead_count(user=user, web_form=web_form)
    context = {"web_form": web_form, "snippet": snippet, "endpoint": endpoint, "lead_count": leads}
    return render(request, "leads/web_form.html", context)


def submission_data(request: HttpRequest) -> dict[str, Any]:
    """Fields of a public post, whether sent as a form or as JSON."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError as error:
            raise InvalidInput(_("The request body is not valid JSON.")) from error
        if not isinstance(body, dict):
            raise InvalidInput(_("Send a JSON object."))
        return {str(k): v for k, v in body.items()}
    return {key: request.POST.get(key, "") for key in request.POST}


@csrf_exempt
@xframe_options_exempt
def public_form(request: HttpRequest, key: str) -> HttpResponse:
    """The public web-to-lead endpoint: no login, no CSRF, verified by the form's secret.

    GET shows a hosted form (it may be framed by any site); POST stores the lead.
    """
    web_form = WebForm.objects.filter(key=key, is_active=True).first()
    if request.method == "GET":
        if web_form is None:
            raise Http404
        context = {"web_form": web_form, "form": PublicLeadForm()}
        return _public_response(render(request, "leads/public_form.html", context), web_form)
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    wants_json = request.content_type == "application/json" or "json" in request.headers.get(
        "Accept", ""
    )
    data = submission_data(request)
    try:
        lead = services.web_form_submit(
            form_key=key,
            secret=str(data.pop("secret", "")),
            data=data,
            ip=request.META.get("REMOTE_ADDR", ""),
        )
    except KehuError as error:
        if wants_json:
            return JsonResponse(error.payload(), status=error.status)
        form = PublicLeadForm(data)
        form.is_valid()
        for name, problems in error.errors.items():
            if name in form.fields:
                form.add_error(name, problems)
        context = {"web_form": web_form, "form": form, "error": error.detail}
        template = "leads/public_form.html" if web_form is not None else "leads/public_error.html"
        return _public_response(render(request, template, context, status=error.status))
    if wants_json:
        return JsonResponse({"detail": "ok", "lead_id": lead.pk if lead else None}, status=201)
    if web_form is not None and web_form.redirect_url:
        return redirect(web_form.redirect_url)
    return _public_response(render(request, "leads/public_thanks.html", {"web_form": web_form}))


def _public_response(response: HttpResponse, web_form: WebForm | None = None) -> HttpResponse:
    """The hosted form may be framed by any site and may redirect to the form's thank-you page."""
    targets = "'self'"
    if web_form is not None and web_form.redirect_url:
        parts = urlsplit(web_form.redirect_url)
        targets += f" {parts.scheme}://{parts.netloc}"
    response["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; form-action {targets}; base-uri 'self'; frame-ancestors *"
    )
    return response
