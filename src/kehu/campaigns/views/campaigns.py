"""The campaign pages under /marketing/: the list with its filters, planning and editing, the
campaign page (plan, goals, costs, members, web forms, links to sends and results) and its
actions. Thin like every view: parse, call one selector or service, render; service errors
become form errors or flash messages.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import Department, User
from kehu.campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignMember,
    CampaignStatus,
    CostCategory,
    GoalMetric,
    Response,
    Segment,
)
from kehu.campaigns.selectors import campaigns as selectors
from kehu.campaigns.services import campaigns as services
from kehu.campaigns.services import members as member_services
from kehu.core.errors import KehuError
from kehu.core.filters import invalid_input
from kehu.core.http import error_message, form_errors, htmx_template
from kehu.core.numbers import IdsChoiceField, id_or_404, posted_version
from kehu.core.pagination import bounded_page
from kehu.customers.models import Industry, Region
from kehu.leads.models import WebForm

PAGE_SIZE = 50
MEMBER_PAGE_SIZE = 50
NOT_A_PLANNER = gettext_lazy("Only marketing, sales managers and administrators plan campaigns.")
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CampaignForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    kind = forms.ChoiceField(label=gettext_lazy("Type"), choices=CampaignKind.choices)
    starts_on = forms.DateField(label=gettext_lazy("Starts"), widget=DATE)
    ends_on = forms.DateField(label=gettext_lazy("Ends"), widget=DATE)
    owner = forms.ModelChoiceField(label=gettext_lazy("Owner"), queryset=User.objects.none())
    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"), queryset=Department.objects.none(), required=False
    )
    budget = forms.DecimalField(
        label=gettext_lazy("Budget (¥)"),
        max_digits=14,
        decimal_places=2,
        min_value=0,
        max_value=services.MAX_MONEY,
        required=False,
    )
    description = forms.CharField(
        label=gettext_lazy("Description"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=5000,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        owner.queryset = User.objects.filter(is_active=True).order_by("username")
        department = self.fields["department"]
        assert isinstance(department, forms.ModelChoiceField)
        department.queryset = Department.objects.order_by("path")


class ReviewForm(forms.Form):
    review = forms.CharField(
        label=gettext_lazy("Review notes (复盘)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=10000,
    )


class GoalForm(forms.Form):
    label = forms.CharField(label=gettext_lazy("Goal"), max_length=200)
    metric = forms.ChoiceField(label=gettext_lazy("Measured by"), choices=GoalMetric.choices)
    target = forms.DecimalField(
        label=gettext_lazy("Target"), max_digits=14, decimal_places=2, min_value=0.01
    )
    industry = forms.ModelChoiceField(
        label=gettext_lazy("Industry"),
        queryset=Industry.objects.filter(code__regex=r"^[A-Z]$").order_by("code"),
        required=False,
    )
    region = forms.ModelChoiceField(
        label=gettext_lazy("Region"),
        queryset=Region.objects.filter(code__endswith="0000").order_by("code"),
        required=False,
    )


class CostForm(forms.Form):
    spent_on = forms.DateField(label=gettext_lazy("Date"), widget=DATE)
    amount = forms.DecimalField(label=gettext_lazy("Amount (¥)"), max_digits=14, decimal_places=2)
    category = forms.ChoiceField(label=gettext_lazy("Category"), choices=CostCategory.choices)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=300, required=False)


class ResponsesForm(forms.Form):
    member_ids = IdsChoiceField(
        label=gettext_lazy("Members"), queryset=CampaignMember.objects.none()
    )
    response = forms.ChoiceField(label=gettext_lazy("Response"), choices=Response.choices)

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = self.fields["member_ids"]
        assert isinstance(members, IdsChoiceField)
        members.queryset = CampaignMember.objects.filter(campaign=campaign).only("pk")


# --- list -----------------------------------------------------------------------------------------


@login_required
def campaign_list(request: AuthedRequest) -> HttpResponse:
    problems: list[str] = []
    try:
        filters = selectors.CampaignFilters.from_querydict(request.GET)
    except ValidationError as error:
        filters = selectors.CampaignFilters()
        problems = [m for ms in invalid_input(error).errors.values() for m in ms]
    rows = selectors.campaign_list(user=request.user, filters=filters)
    page = bounded_page(rows, PAGE_SIZE, request.GET.get("page"))
    counts = selectors.member_counts_by_campaign([row.pk for row in page])
    items = [{"campaign": row, "members": counts.get(row.pk, 0)} for row in page]
    return render(
        request,
        "campaigns/campaigns/list.html",
        {
            "page": page,
            "items": items,
            "filters": filters,
            "problems": problems,
            "statuses": CampaignStatus.choices,
            "kinds": CampaignKind.choices,
            "departments": Department.objects.order_by("path"),
            "may_create": services.campaign_may_create(request.user),
        },
    )


def _plan_data(form: CampaignForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in services.PLAN_FIELDS}


@login_required
def campaign_new(request: AuthedRequest) -> HttpResponse:
    if not services.campaign_may_create(request.user):
        raise PermissionDenied(
            _("Only marketing, sales managers and administrators plan campaigns.")
        )
    form = CampaignForm(
        request.POST or None,
        initial={"owner": request.user, "department": request.user.department_id},
    )
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(actor=request.user, data=_plan_data(form))
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Campaign %(name)s planned.") % {"name": campaign.name})
            return redirect("campaigns:detail", campaign.pk)
    return render(request, "campaigns/campaigns/form.html", {"form": form, "campaign": None})


@login_required
def campaign_edit(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    if not services.campaign_may_edit(request.user, campaign):
        raise PermissionDenied(
            _("Only marketing, sales managers and administrators plan campaigns.")
        )
    initial = {name: getattr(campaign, name) for name in services.PLAN_FIELDS}
    form = CampaignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(
                actor=request.user,
                campaign=campaign,
                data=_plan_data(form),
                version=posted_version(request),
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("campaigns:detail", campaign.pk)
    return render(request, "campaigns/campaigns/form.html", {"form": form, "campaign": campaign})


# --- the campaign page ----------------------------------------------------------------------------


def _members_context(request: AuthedRequest, campaign: Campaign) -> dict[str, Any]:
    problems: list[str] = []
    try:
        filters = selectors.MemberFilters.from_querydict(request.GET)
    except ValidationError as error:
        filters = selectors.MemberFilters()
        problems = [m for ms in invalid_input(error).errors.values() for m in ms]
    rows = selectors.member_list(user=request.user, campaign=campaign, filters=filters)
    page = bounded_page(rows, MEMBER_PAGE_SIZE, request.GET.get("page"))
    return {
        "campaign": campaign,
        "member_page": page,
        "page": page,
        "members": [selectors.member_row(request.user, row) for row in page],
        "member_filters": filters,
        "member_problems": problems,
        "responses": Response.choices,
        "may_edit": services.campaign_may_edit(request.user, campaign),
    }


@login_required
def campaign_detail(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    may_edit = services.campaign_may_edit(request.user, campaign)
    attached = selectors.forms_of(campaign)
    context = _members_context(request, campaign)
    context.update(
        summary=selectors.member_summary(campaign),
        goals=selectors.goals_of(campaign),
        costs=selectors.costs_of(campaign),
        attached=attached,
        free_forms=WebForm.objects.filter(campaign_link__isnull=True).order_by("name")
        if may_edit
        else [],
        segments=Segment.objects.visible_to(request.user).order_by("name")[:200]
        if may_edit
        else [],
        next_statuses=[
            (value, label)
            for value, label in CampaignStatus.choices
            if value in services.TRANSITIONS[campaign.status]
        ],
        review_form=ReviewForm(initial={"review": campaign.review}),
        goal_form=GoalForm(),
        cost_form=CostForm(),
    )
    return render(request, "campaigns/campaigns/detail.html", context)


@login_required
def campaign_members(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    """The member list (the campaign page loads it again with htmx when filtered or paged)."""
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    template = htmx_template(
        request, "campaigns/campaigns/members.html", "campaigns/campaigns/members_table.html"
    )
    return render(request, template, _members_context(request, campaign))


def _action(request: AuthedRequest, campaign_id: int, action: Any) -> HttpResponseRedirect:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    try:
        action(campaign)
    except KehuError as error:
        messages.error(request, error_message(error))
    return redirect("campaigns:detail", campaign_id)


def _form_error(request: AuthedRequest, form: forms.Form) -> None:
    for problems in form.errors.values():
        for problem in problems:
            messages.error(request, str(problem))


@login_required
@require_POST
def campaign_status(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    def change(campaign: Campaign) -> None:
        services.campaign_set_status(
            actor=request.user,
            campaign=campaign,
            status=str(request.POST.get("status", ""))[:20],
            version=posted_version(request),
        )
        messages.success(request, _("Campaign status changed."))

    return _action(request, campaign_id, change)


@login_required
@require_POST
def campaign_review(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    def save(campaign: Campaign) -> None:
        form = ReviewForm(request.POST)
        if not form.is_valid():
            _form_error(request, form)
            return
        services.campaign_update(
            actor=request.user,
            campaign=campaign,
            data={"review": form.cleaned_data["review"]},
            version=posted_version(request),
        )
        messages.success(request, _("Review notes saved."))

    return _action(request, campaign_id, save)


@login_required
@require_POST
def campaign_delete(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    try:
        services.campaign_delete(actor=request.user, campaign=campaign)
    except KehuError as error:
        messages.error(request, error_message(error))
        return redirect("campaigns:detail", campaign_id)
    messages.success(request, _("Campaign deleted."))
    return redirect("campaigns:list")


@login_required
@require_POST
def goal_add(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    def add(campaign: Campaign) -> None:
        form = GoalForm(request.POST)
        if not form.is_valid():
            services.lock_campaign(request.user, campaign)  # 403/404 before form errors
            _form_error(request, form)
            return
        data = dict(form.cleaned_data)
        data["industry"] = data["industry"].pk if data["industry"] else None
        data["region"] = data["region"].pk if data["region"] else None
        services.goal_add(actor=request.user, campaign=campaign, data=data)
        messages.success(request, _("Goal added."))

    return _action(request, campaign_id, add)


@login_required
@require_POST
def goal_remove(request: AuthedRequest, campaign_id: int, goal_id: int) -> HttpResponse:
    def remove(campaign: Campaign) -> None:
        services.goal_remove(actor=request.user, campaign=campaign, goal_id=goal_id)
        messages.success(request, _("Goal removed."))

    return _action(request, campaign_id, remove)


@login_required
@require_POST
def cost_add(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    def add(campaign: Campaign) -> None:
        form = CostForm(request.POST)
        if not form.is_valid():
            services.lock_campaign(request.user, campaign)
            _form_error(request, form)
            return
        services.cost_add(actor=request.user, campaign=campaign, data=dict(form.cleaned_data))
        messages.success(request, _("Cost recorded."))

    return _action(request, campaign_id, add)


@login_required
@require_POST
def cost_remove(request: AuthedRequest, campaign_id: int, cost_id: int) -> HttpResponse:
    def remove(campaign: Campaign) -> None:
        services.cost_remove(actor=request.user, campaign=campaign, cost_id=cost_id)
        messages.success(request, _("Cost removed."))

    return _action(request, campaign_id, remove)


@login_required
@require_POST
def form_attach(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    def attach(campaign: Campaign) -> None:
        services.form_attach(
            actor=request.user,
            campaign=campaign,
            web_form_id=id_or_404(request.POST.get("web_form_id")),
        )
        messages.success(
            request, _("Web form attached: the leads it captures carry this campaign.")
        )

    return _action(request, campaign_id, attach)


@login_required
@require_POST
def form_detach(request: AuthedRequest, campaign_id: int, web_form_id: int) -> HttpResponse:
    def detach(campaign: Campaign) -> None:
        services.form_detach(actor=request.user, campaign=campaign, web_form_id=web_form_id)
        messages.success(request, _("Web form detached."))

    return _action(request, campaign_id, detach)


@login_required
@require_POST
def members_from_segment(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    def add(campaign: Campaign) -> None:
        added = member_services.members_add_from_segment(
            actor=request.user,
            campaign=campaign,
            segment_id=id_or_404(request.POST.get("segment_id")),
            primary_only=request.POST.get("primary_only") == "on",
        )
        messages.success(
            request,
            _("%(added)s members added, %(already)s already in the campaign.")
            % {"added": added.added, "already": added.already},
        )

    return _action(request, campaign_id, add)


@login_required
@require_POST
def members_response(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    def update(campaign: Campaign) -> None:
        form = ResponsesForm(request.POST, campaign=campaign)
        if not form.is_valid():
            services.lock_campaign(request.user, campaign)
            _form_error(request, form)
            return
        changed = member_services.members_set_response(
            actor=request.user,
            campaign=campaign,
            member_ids=[member.pk for member in form.cleaned_data["member_ids"]],
            response=form.cleaned_data["response"],
        )
        messages.success(request, _("%(count)s members updated.") % {"count": changed})

    return _action(request, campaign_id, update)


@login_required
@require_POST
def member_remove(request: AuthedRequest, campaign_id: int, member_id: int) -> HttpResponse:
    def remove(campaign: Campaign) -> None:
        member_services.member_remove(actor=request.user, campaign=campaign, member_id=member_id)
        messages.success(request, _("Member removed."))

    return _action(request, campaign_id, remove)


urlpatterns: list[URLPattern] = [
    path("", campaign_list, name="list"),
    path("campaigns/new/", campaign_new, name="new"),
    path("campaigns/<int:campaign_id>/", campaign_detail, name="detail"),
    path("campaigns/<int:campaign_id>/edit/", campaign_edit, name="edit"),
    path("campaigns/<int:campaign_id>/status/", campaign_status, name="status"),
    path("campaigns/<int:campaign_id>/review/", campaign_review, name="review"),
    path("campaigns/<int:campaign_id>/delete/", campaign_delete, name="delete"),
    path("campaigns/<int:campaign_id>/goals/", goal_add, name="goal_add"),
    path(
        "campaigns/<int:campaign_id>/goals/<int:goal_id>/remove/", goal_remove, name="goal_remove"
    ),
    path("campaigns/<int:campaign_id>/costs/", cost_add, name="cost_add"),
    path(
        "campaigns/<int:campaign_id>/costs/<int:cost_id>/remove/", cost_remove, name="cost_remove"
    ),
    path("campaigns/<int:campaign_id>/forms/", form_attach, name="form_attach"),
    path(
        "campaigns/<int:campaign_id>/forms/<int:web_form_id>/detach/",
        form_detach,
        name="form_detach",
    ),
    path("campaigns/<int:campaign_id>/members/", campaign_members, name="members"),
    path(
        "campaigns/<int:campaign_id>/members/from-segment/",
        members_from_segment,
        name="members_from_segment",
    ),
    path(
        "campaigns/<int:campaign_id>/members/responses/",
        members_response,
        name="members_response",
    ),
    path(
        "campaigns/<int:campaign_id>/members/<int:member_id>/remove/",
        member_remove,
        name="member_remove",
    ),
]
