"""The handovers pages (服务交接单) and the routing rules' settings page.

Thin like every view: parse, call one selector or service, render; service errors become form
errors or flash messages.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import Department, User
from kehu.core.access import get_editable_or_404, is_admin, policy_of
from kehu.core.dashboard import Panel
from kehu.core.errors import KehuError, NotFound
from kehu.core.history import history_entries
from kehu.core.http import error_message, form_errors
from kehu.core.numbers import posted_version
from kehu.core.pagination import bounded_page
from kehu.customers.models import Industry, Region
from kehu.service.models import (
    Handover,
    HandoverStatus,
    RoutingStrategy,
    RoutingTarget,
    TicketType,
)
from kehu.service.selectors import handovers as selectors
from kehu.service.services import handovers as services

PAGE_SIZE = 50
BOXES = (
    ("to_confirm", gettext_lazy("To confirm")),
    ("mine", gettext_lazy("Mine to write")),
    ("all", gettext_lazy("Team")),
)
# The tabs each role works from (any tab a link asks for is shown too).
BOX_ROLES = {"service": ("to_confirm", "all"), "sales": ("mine", "all")}


class HandoverForm(forms.Form):
    needs = forms.CharField(
        label=gettext_lazy("Customer needs"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
    )
    service_content = forms.CharField(
        label=gettext_lazy("Service content"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
    )
    response_hours = forms.IntegerField(
        label=gettext_lazy("Promised response (hours)"),
        required=False,
        min_value=1,
        max_value=24 * 365,
    )
    resolution_hours = forms.IntegerField(
        label=gettext_lazy("Promised resolution (hours)"),
        required=False,
        min_value=1,
        max_value=24 * 365,
    )
    contract_terms = forms.CharField(
        label=gettext_lazy("Other key contract terms"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
    )
    special_notes = forms.CharField(
        label=gettext_lazy("Special notes"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
        help_text=gettext_lazy("For example: prefers email (偏好邮件沟通)."),
    )
    product = forms.CharField(label=gettext_lazy("Product"), required=False, max_length=100)

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in services.EDITABLE_FIELDS}


class SpecialistForm(forms.Form):
    specialist = forms.ModelChoiceField(
        label=gettext_lazy("Service specialist"),
        queryset=User.objects.none(),
        required=False,
        empty_label=gettext_lazy("By the routing rules"),
    )

    def __init__(self, *args: Any, required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["specialist"]
        field.queryset = services.specialist_choices()
        field.required = required


class AttachmentForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File"))


class RoutingRuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    target = forms.ChoiceField(label=gettext_lazy("Applies to"), choices=RoutingTarget.choices)
    order = forms.IntegerField(
        label=gettext_lazy("Order"), min_value=0, max_value=32767, initial=100
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
    ticket_type = forms.ChoiceField(
        label=gettext_lazy("Ticket type"), choices=[("", "—"), *TicketType.choices], required=False
    )
    region = forms.ModelChoiceField(
        label=gettext_lazy("Region"), queryset=Region.objects.all(), required=False
    )
    industry = forms.ModelChoiceField(
        label=gettext_lazy("Industry"), queryset=Industry.objects.all(), required=False
    )
    product = forms.CharField(label=gettext_lazy("Product / skill"), max_length=100, required=False)
    department = forms.ModelChoiceField(
        label=gettext_lazy("Responsible department"),
        queryset=Department.objects.all(),
        required=False,
    )
    strategy = forms.ChoiceField(label=gettext_lazy("Strategy"), choices=RoutingStrategy.choices)
    members = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Members"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["members"]
        field.queryset = services.rule_member_choices()

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for name in ("region", "industry", "department"):
            data[name] = data[name].pk if data[name] is not None else None
        data["members"] = [user.pk for user in data["members"]]
        return data


# --- handovers --------------------------------------------------------------------------------


@login_required
def handover_list(request: AuthedRequest) -> HttpResponse:
    try:
        filters = selectors.HandoverFilters.from_querydict(request.GET)
    except ValidationError:
        filters = selectors.HandoverFilters()
    if "box" not in request.GET:
        box = "to_confirm" if request.user.role == "service" else "mine"
        filters = filters.model_copy(update={"box": box})
        if request.user.role in ("manager", "admin"):
            filters = filters.model_copy(update={"box": "all"})
    rows = selectors.handover_list(user=request.user, filters=filters)
    page = bounded_page(rows, PAGE_SIZE, request.GET.get("page"))
    shown = BOX_ROLES.get(request.user.role, ("mine", "to_confirm", "all"))
    boxes = [(key, label) for key, label in BOXES if key in shown or key == filters.box]
    return render(
        request,
        "service/handovers/list.html",
        {"page": page, "box": filters.box, "boxes": boxes},
    )


def _detail_context(request: AuthedRequest, handover: Handover, **extra: Any) -> dict[str, Any]:
    user = request.user
    hidden = policy_of(Handover).masked_fields(user, handover)
    may_write = selectors.handover_editable(user=user, handover_id=handover.pk)
    context = {
        "handover": handover,
        "terms_hidden": "contract_terms" in hidden,
        "may_edit": may_write and services.handover_may_edit(user, handover),
        "may_submit": may_write and services.handover_may_edit(user, handover),
        "may_confirm": services.handover_may_confirm(user, handover),
        "may_cancel": may_write and services.handover_may_cancel(user, handover),
        "may_reassign": services.handover_may_reassign(user, handover),
        "may_attach": may_write
        and services._is_writer(user)
        and handover.status != HandoverStatus.CANCELLED,
        "missing": services.submit_problems(handover),
        "attachments": list(handover.attachments.select_related("uploaded_by")),
        "history": history_entries(handover.history.all(), hidden_fields=frozenset(hidden)),
        "specialist_form": SpecialistForm(),
        "reassign_form": SpecialistForm(required=True),
        "attachment_form": AttachmentForm(),
    }
    context.update(extra)
    return context


@login_required
def handover_detail(request: AuthedRequest, handover_id: int) -> HttpResponse:
    handover = selectors.handover_get(user=request.user, handover_id=handover_id)
    return render(request, "service/handovers/detail.html", _detail_context(request, handover))


@login_required
def handover_edit(request: AuthedRequest, handover_id: int) -> HttpResponse:
    handover = get_editable_or_404(
        selectors.handover_list(user=request.user), request.user, pk=handover_id
    )
    if not services._is_writer(request.user):
        raise PermissionDenied(
            _("Only the sales owner, their managers and administrators may do this.")
        )
    initial = {name: getattr(handover, name) for name in services.EDITABLE_FIELDS}
    form = HandoverForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.handover_update(
                actor=request.user,
                handover=handover,
                data=form.service_data(),
                version=posted_version(request),
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Handover saved."))
            return redirect("service:handover_detail", handover.pk)
    return render(request, "service/handovers/form.html", {"form": form, "handover": handover})


def _action(request: AuthedRequest, handover_id: int, action: Any) -> HttpResponseRedirect:
    handover = selectors.handover_get(user=request.user, handover_id=handover_id)
    try:
        action(handover)
    except KehuError as error:
        messages.error(request, error_message(error))
    return redirect("service:handover_detail", handover_id)


@login_required
@require_POST
def handover_submit(request: AuthedRequest, handover_id: int) -> HttpResponse:
    form = SpecialistForm(request.POST)

    def submit(handover: Handover) -> None:
        if not form.is_valid():
            messages.error(request, _("Choose a service specialist from the list."))
            return
        specialist = form.cleaned_data["specialist"]
        done = services.handover_submit(
            actor=request.user,
            handover=handover,
            specialist=specialist,
            version=posted_version(request),
        )
        messages.success(
            request,
            _("Handover submitted to %(specialist)s, who must confirm it.")
            % {"specialist": done.specialist},
        )

    return _action(request, handover_id, submit)


@login_required
@require_POST
def handover_confirm(request: AuthedRequest, handover_id: int) -> HttpResponse:
    def confirm(handover: Handover) -> None:
        services.handover_confirm(
            actor=request.user, handover=handover, version=posted_version(request)
        )
        messages.success(request, _("Handover confirmed: the customer is now in your care."))

    return _action(request, handover_id, confirm)


@login_required
@require_POST
def handover_cancel(request: AuthedRequest, handover_id: int) -> HttpResponse:
    def cancel(handover: Handover) -> None:
        services.handover_cancel(
            actor=request.user,
            handover=handover,
            reason=request.POST.get("reason", ""),
            version=posted_version(request),
        )
        messages.success(request, _("Handover cancelled."))

    return _action(request, handover_id, cancel)


@login_required
@require_POST
def handover_reassign(request: AuthedRequest, handover_id: int) -> HttpResponse:
    form = SpecialistForm(request.POST, required=True)

    def reassign(handover: Handover) -> None:
        if not form.is_valid():
            messages.error(request, _("Choose a service specialist from the list."))
            return
        services.handover_reassign_specialist(
            actor=request.user,
            handover=handover,
            specialist=form.cleaned_data["specialist"],
            version=posted_version(request),
        )
        messages.success(request, _("Another specialist was appointed."))

    return _action(request, handover_id, reassign)


@login_required
@require_POST
def handover_attachment_add(request: AuthedRequest, handover_id: int) -> HttpResponse:
    form = AttachmentForm(request.POST, request.FILES)

    def add(handover: Handover) -> None:
        if not form.is_valid():
            messages.error(request, _("Choose a file."))
            return
        services.handover_attachment_add(
            actor=request.user, handover=handover, file=form.cleaned_data["file"]
        )
        messages.success(request, _("Attachment added."))

    return _action(request, handover_id, add)


@login_required
def handover_attachment(request: AuthedRequest, handover_attachment_id: int) -> FileResponse:
    try:
        attachment = selectors.attachment_get(
            user=request.user, attachment_id=handover_attachment_id
        )
    except NotFound as missing:
        raise Http404 from missing
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    return FileResponse(handle, as_attachment=True, filename=attachment.name)


# --- routing rules ----------------------------------------------------------------------------


def _rule_admin(request: AuthedRequest) -> None:
    if not (is_admin(request.user) or request.user.role == "manager"):
        raise PermissionDenied(_("Only managers and administrators manage routing rules."))


@login_required
def routing_rules(request: AuthedRequest) -> HttpResponse:
    _rule_admin(request)
    return render(
        request,
        "service/handovers/routing_rules.html",
        {"rules": list(selectors.routing_rule_list())},
    )


@login_required
def routing_rule_edit(request: AuthedRequest, routing_rule_id: int | None = None) -> HttpResponse:
    _rule_admin(request)
    rule = selectors.routing_rule_get(routing_rule_id) if routing_rule_id else None
    initial: dict[str, Any] = {}
    if rule is not None:
        initial = {
            name: getattr(rule, name)
            for name in ("name", "target", "order", "is_active", "ticket_type", "product")
        }
        initial.update(
            region=rule.region_id,
            industry=rule.industry_id,
            department=rule.department_id,
            strategy=rule.strategy,
            members=[member.pk for member in rule.members.all()],
        )
    form = RoutingRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                services.routing_rule_create(actor=request.user, data=form.service_data())
            else:
                services.routing_rule_update(
                    actor=request.user,
                    rule=rule,
                    data=form.service_data(),
                    version=posted_version(request),
                )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Routing rule saved."))
            return redirect("service:routing_rules")
    title = rule.name if rule is not None else _("New routing rule")
    return render(
        request,
        "service/handovers/routing_rule_form.html",
        {"form": form, "rule": rule, "title": title},
    )


@login_required
@require_POST
def routing_rule_delete(request: AuthedRequest, routing_rule_id: int) -> HttpResponse:
    _rule_admin(request)
    rule = selectors.routing_rule_get(routing_rule_id)
    try:
        services.routing_rule_delete(actor=request.user, rule=rule)
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("Routing rule deleted."))
    return redirect("service:routing_rules")


# --- dashboard panels -------------------------------------------------------------------------

PANEL_ROWS = 8


def confirmation_panel(request: Any) -> Panel | None:
    """Service: the handovers waiting for my confirmation."""
    user = request.user
    if getattr(user, "role", "") != "service":
        return None
    rows = list(selectors.waiting_for_confirmation(user)[: PANEL_ROWS + 1])
    return Panel(
        template="service/handovers/panel.html",
        context={
            "rows": rows[:PANEL_ROWS],
            "more": len(rows) > PANEL_ROWS,
            "kind": "to_confirm",
        },
        order=20,
    )


def drafts_panel(request: Any) -> Panel | None:
    """Sales: the handover drafts still to complete."""
    user = request.user
    if getattr(user, "role", "") not in ("sales", "manager"):
        return None
    rows = list(selectors.drafts_to_complete(user)[: PANEL_ROWS + 1])
    if not rows:
        return None
    return Panel(
        template="service/handovers/panel.html",
        context={"rows": rows[:PANEL_ROWS], "more": len(rows) > PANEL_ROWS, "kind": "drafts"},
        order=25,
    )


urlpatterns: list[URLPattern] = [
    path("handovers/", handover_list, name="handovers"),
    path("handovers/<int:handover_id>/", handover_detail, name="handover_detail"),
    path("handovers/<int:handover_id>/edit/", handover_edit, name="handover_edit"),
    path("handovers/<int:handover_id>/submit/", handover_submit, name="handover_submit"),
    path("handovers/<int:handover_id>/confirm/", handover_confirm, name="handover_confirm"),
    path("handovers/<int:handover_id>/cancel/", handover_cancel, name="handover_cancel"),
    path("handovers/<int:handover_id>/reassign/", handover_reassign, name="handover_reassign"),
    path(
        "handovers/<int:handover_id>/attachments/",
        handover_attachment_add,
        name="handover_attachment_add",
    ),
    path(
        "handovers/attachments/<int:handover_attachment_id>/",
        handover_attachment,
        name="handover_attachment",
    ),
    path("routing-rules/", routing_rules, name="routing_rules"),
    path("routing-rules/new/", routing_rule_edit, name="routing_rule_new"),
    path("routing-rules/<int:routing_rule_id>/", routing_rule_edit, name="routing_rule_edit"),
    path(
        "routing-rules/<int:routing_rule_id>/delete/",
        routing_rule_delete,
        name="routing_rule_delete",
    ),
]
