"""The tickets pages: the list (mine / team / triage / all I see, with the SLA time to breach),
the detail (thread of customer messages, replies and internal notes; the actions; the
events), and the new-ticket form. Views parse input, call one selector or service, render;
service errors become form errors or flash messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import Role, User
from kehu.core import custom_fields
from kehu.core.access import get_editable_or_404, is_admin, managed_department_ids, policy_of
from kehu.core.errors import InvalidInput, KehuError
from kehu.core.http import error_message, form_errors
from kehu.core.numbers import whole_number
from kehu.core.pagination import bounded_page, narrowed
from kehu.customers.models import Contact, Customer, SavedFilter
from kehu.customers.selectors import customer_choices, saved_filters
from kehu.customers.widgets import CustomerPicker, picker_label
from kehu.service.models import (
    MessageKind,
    SlaState,
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from kehu.service.selectors import tickets as selectors
from kehu.service.services import sla
from kehu.service.services import tickets as services

PAGE_SIZE = 50
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TABS = (
    ("mine", gettext_lazy("Mine")),
    ("team", gettext_lazy("My team")),
    ("triage", gettext_lazy("Triage")),
    ("all", gettext_lazy("All I see")),
)
SLA_BADGES = {
    SlaState.ON_TRACK: "text-bg-success",
    SlaState.WARNING: "text-bg-warning",
    SlaState.BREACHED: "text-bg-danger",
    SlaState.PAUSED: "text-bg-secondary",
    SlaState.MET: "text-bg-light border",
}


# --- the SLA as people read it ----------------------------------------------------------------


def duration_text(minutes: int) -> str:
    """2小时15分 / 3天4小时 / 45分 (in English: 2h 15m, 3d 4h, 45m)."""
    minutes = abs(minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)sd %(hours)sh") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)sh %(minutes)sm") % {"hours": hours, "minutes": mins}
    return _("%(minutes)sm") % {"minutes": mins}


@dataclass(frozen=True)
class SlaView:
    state: str
    label: str
    text: str
    badge: str
    due_at: datetime | None


def sla_view(ticket: Ticket, now: datetime) -> SlaView:
    status = sla.sla_state(ticket, now=now)
    state = SlaState(status.state)
    text = ""
    if status.minutes_left is not None:
        if status.minutes_left < 0:
            text = _("Breached %(time)s ago") % {"time": duration_text(status.minutes_left)}
        else:
            text = _("%(time)s to breach") % {"time": duration_text(status.minutes_left)}
    elif state == SlaState.PAUSED:
        text = _("Paused while waiting for the customer")
    return SlaView(
        state=state.value,
        label=str(state.label),
        text=text,
        badge=SLA_BADGES.get(state, "text-bg-light"),
        due_at=status.due_at,
    )


# Event names with a context: "Created" alone reads 创建时间 (a column) in other catalogues.
EVENT_LABELS = {
    TicketEventKind.CREATED: pgettext_lazy("ticket event", "Created"),
    TicketEventKind.ASSIGNED: pgettext_lazy("ticket event", "Assigned"),
    TicketEventKind.STATUS: pgettext_lazy("ticket event", "Status changed"),
    TicketEventKind.REPLANNED: pgettext_lazy("ticket event", "Promise re-planned"),
    TicketEventKind.WARNED: pgettext_lazy("ticket event", "SLA warning"),
    TicketEventKind.BREACHED: pgettext_lazy("ticket event", "SLA breached"),
    TicketEventKind.MERGED: pgettext_lazy("ticket event", "Merged"),
    TicketEventKind.REOPENED: pgettext_lazy("ticket event", "Reopened"),
    TicketEventKind.SURVEYED: pgettext_lazy("ticket event", "Satisfaction received"),
}


def _local_text(value: Any) -> str:
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def event_view(event: TicketEvent) -> TicketEvent:
    """The event with what the page shows: its name and a one-line summary."""
    label = EVENT_LABELS.get(TicketEventKind(event.kind), event.get_kind_display())
    summary = ""
    statuses = dict(TicketStatus.choices)
    if event.from_status and event.to_status:
        summary = f"{statuses.get(event.from_status, '')} → {statuses.get(event.to_status, '')}"
    elif event.to_status:
        summary = str(statuses.get(event.to_status, ""))
    data = event.data or {}
    if event.kind == TicketEventKind.ASSIGNED and data.get("to_name"):
        summary = f"→ {data['to_name']}"
    elif event.kind == TicketEventKind.MERGED:
        summary = f"→ {data['into_number']}" if data.get("into_number") else ""
        summary = summary or (f"← {data['from_number']}" if data.get("from_number") else "")
    elif event.kind == TicketEventKind.REPLANNED:
        parts = []
        if data.get("old_response") != data.get("new_response"):
            parts.append(
                _("Response %(old)s → %(new)s")
                % {
                    "old": _local_text(data.get("old_response")),
                    "new": _local_text(data.get("new_response")),
                }
            )
        if data.get("old_resolution") != data.get("new_resolution"):
            parts.append(
                _("Resolution %(old)s → %(new)s")
                % {
                    "old": _local_text(data.get("old_resolution")),
                    "new": _local_text(data.get("new_resolution")),
                }
            )
        summary = "; ".join(parts)
    event.label = str(label)  # type: ignore[attr-defined]
    event.summary = summary  # type: ignore[attr-defined]
    return event


# --- forms ------------------------------------------------------------------------------------


class TicketCustomerPicker(CustomerPicker):
    """The customer picker over the customers the user sees (a service specialist sees the
    customers handed to them without editing them)."""

    template_name = "service/tickets/customer_picker.html"


def assignable_users(user: User) -> QuerySet[User]:
    """Who a ticket may be given to: active service staff, managers and administrators;
    a manager's choice is their departments, a service user's their own team."""
    users = User.objects.filter(
        is_active=True, role__in=[Role.SERVICE, Role.MANAGER, Role.ADMIN]
    ).order_by("department__name", "username")
    if is_admin(user):
        return users
    departments = managed_department_ids(user)
    if departments:
        return users.filter(department__in=departments)
    if user.department_id:
        return users.filter(department_id=user.department_id)
    return users.filter(pk=user.pk)


class TicketForm(custom_fields.CustomFormMixin, forms.Form):
    customer = forms.ModelChoiceField(
        label=gettext_lazy("Customer"),
        queryset=Customer.objects.none(),
        widget=TicketCustomerPicker,
        required=False,
        help_text=gettext_lazy("Leave empty for an unknown requester: the ticket goes to triage."),
    )
    requester_email = forms.EmailField(
        label=gettext_lazy("Requester email"),
        required=False,
        help_text=gettext_lazy("Replies are e-mailed here; the customer's primary contact else."),
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    content = forms.CharField(
        label=gettext_lazy("Content"), max_length=20000, widget=forms.Textarea(attrs={"rows": 5})
    )
    ticket_type = forms.ChoiceField(
        label=gettext_lazy("Type"), choices=TicketType.choices, initial=TicketType.SUPPORT
    )
    priority = forms.ChoiceField(
        label=pgettext_lazy("ticket", "Priority"), choices=TicketPriority.choices, initial="medium"
    )
    product = forms.CharField(label=gettext_lazy("Product"), max_length=100, required=False)
    assignee = forms.ModelChoiceField(
        label=gettext_lazy("Person responsible"),
        queryset=User.objects.none(),
        required=False,
        help_text=gettext_lazy("Leave empty to let the assignment rules choose."),
    )
    promised_response_at = forms.DateTimeField(
        label=gettext_lazy("Promised response by"), required=False, widget=DATETIME
    )
    promised_resolution_at = forms.DateTimeField(
        label=gettext_lazy("Promised resolution by"), required=False, widget=DATETIME
    )

    # what an edit changes (``services.ticket_update``); the rest has its own action
    EDITED = ("subject", "content", "ticket_type", "priority", "product")

    def __init__(
        self,
        *args: Any,
        user: User,
        editing: bool = False,
        custom_specs: Sequence[custom_fields.FieldSpec] = (),
        custom: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, Any] = self.fields
        if editing:
            for name in list(fields):
                if name not in self.EDITED:
                    del fields[name]
        else:
            fields["customer"].queryset = Customer.objects.visible_to(user).order_by("-id")
            fields["assignee"].queryset = assignable_users(user)
        custom_fields.add_form_fields(self, custom_specs, custom)

    def service_data(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data.get(name)
            for name in (
                *self.EDITED,
                "promised_response_at",
                "promised_resolution_at",
            )
            if name in self.fields
        }
        if self.cleaned_data.get("assignee") is not None:
            data["assignee"] = self.cleaned_data["assignee"]
        custom = custom_fields.form_values(self)
        if custom is not None:
            data["custom"] = custom
        return data


def _primary_contact(customer: Customer | None) -> Contact | None:
    if customer is None:
        return None
    return (
        Contact.objects.filter(customer=customer, is_active=True)
        .exclude(email="")
        .order_by("-is_primary", "id")
        .first()
    )


# --- pages ------------------------------------------------------------------------------------


@login_required
def ticket_list(request: AuthedRequest) -> HttpResponse:
    filters = selectors.TicketFilters.parse(request.GET)
    if "tab" not in request.GET and request.user.role == Role.SERVICE:
        filters = selectors.TicketFilters(**{**filters.__dict__, "tab": "mine"})
    rows = selectors.ticket_list(user=request.user, filters=filters)
    if filters.q:  # a LIKE the planner can only guess at: read the matches' keys first
        rows, _count = narrowed(rows)
    page = bounded_page(rows, PAGE_SIZE, request.GET.get("page"))
    now = timezone.now()
    custom = custom_fields.list_columns("ticket", request.user, filters.columns, filters.custom.cf)
    policy = policy_of(Ticket)
    cells = custom.cells(
        page.object_list, lambda row: not policy.has_full_access(request.user, row)
    )
    page.object_list = [
        (row, sla_view(row, now), row_cells)
        for row, row_cells in zip(page.object_list, cells, strict=True)
    ]
    context = {
        **custom.context(),
        "page": page,
        "filters": filters,
        "tabs": TABS,
        "statuses": [("open", _("Open")), *TicketStatus.choices],
        "priorities": TicketPriority.choices,
        "types": TicketType.choices,
        "sla_choices": (("overdue", _("Overdue")), ("at_risk", _("At risk"))),
        "may_create": services.may_create(request.user),
        "saved_filters": saved_filters(user=request.user, list_name=SavedFilter.ListName.TICKETS),
    }
    return render(request, "service/tickets/list.html", context)


@login_required
def ticket_create(request: AuthedRequest) -> HttpResponse:
    if not services.may_create(request.user):
        raise PermissionDenied(_("Your role may not raise tickets."))
    form = TicketForm(
        request.POST or None,
        user=request.user,
        initial={"customer": request.GET.get("customer")},
        custom_specs=custom_fields.editable_fields("ticket", request.user),
    )
    if request.method == "POST" and form.is_valid():
        customer = form.cleaned_data.get("customer")
        contact = _primary_contact(customer)
        try:
            ticket = services.ticket_create(
                actor=request.user,
                data=form.service_data(),
                channel=TicketChannel.UI,
                customer=customer,
                contact=contact,
                requester_email=form.cleaned_data.get("requester_email") or "",
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Ticket %(number)s created.") % {"number": ticket.number})
            return redirect("service:ticket_detail", ticket.pk)
    return render(request, "service/tickets/form.html", {"form": form, "title": _("New ticket")})


@login_required
def ticket_customer_pick(request: AuthedRequest) -> HttpResponse:
    visible = Customer.objects.visible_to(request.user)
    customers = customer_choices(visible, request.GET.get("q", "")[:100])
    options = [(customer.pk, picker_label(customer)) for customer in customers]
    return render(request, "customers/_pick_options.html", {"options": options})


@login_required
def ticket_detail(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    can_edit = Ticket.objects.editable_by(request.user).filter(pk=ticket.pk).exists()
    now = timezone.now()
    allowed = sorted(
        services.TRANSITIONS.get(ticket.status, frozenset()),
        key=lambda value: list(TicketStatus.values).index(value),
    )
    context = {
        "ticket": ticket,
        "custom_values": custom_fields.shown_rows(
            "ticket",
            request.user,
            ticket.custom,
            masked=custom_fields.masked_for(request.user, ticket),
        ),
        "sla": sla_view(ticket, now),
        "can_edit": can_edit,
        "thread": list(selectors.ticket_messages(ticket)),
        "events": [event_view(event) for event in selectors.ticket_events(ticket)],
        "merged": list(selectors.merged_tickets(ticket)),
        "next_statuses": [(value, TicketStatus(value).label) for value in allowed],
        "assignees": assignable_users(request.user) if can_edit else [],
        "may_reopen": ticket.status in {TicketStatus.RESOLVED, TicketStatus.CLOSED}
        and ticket.merged_into_id is None,
        "link_form": LinkForm(user=request.user),
        "kinds": MessageKind,
    }
    return render(request, "service/tickets/detail.html", context)


class LinkForm(forms.Form):
    customer = forms.ModelChoiceField(
        label=gettext_lazy("Customer"),
        queryset=Customer.objects.none(),
        widget=TicketCustomerPicker(attrs={"size": 4}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, Any] = self.fields
        fields["customer"].queryset = Customer.objects.visible_to(user).order_by("-id")


# --- actions ----------------------------------------------------------------------------------


@login_required
def ticket_edit(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    """Edit the subject, content, type, priority, product and custom fields of a ticket."""
    ticket = get_editable_or_404(Ticket.objects.all(), request.user, pk=ticket_id)
    form = TicketForm(
        request.POST or None,
        user=request.user,
        editing=True,
        initial={name: getattr(ticket, name) for name in TicketForm.EDITED},
        custom_specs=custom_fields.editable_fields(
            "ticket", request.user, masked=custom_fields.masked_for(request.user, ticket)
        ),
        custom=ticket.custom,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.ticket_update(
                actor=request.user,
                ticket=ticket,
                data=form.service_data(),
                version=_version(request),
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Ticket saved."))
            return redirect("service:ticket_detail", ticket.pk)
    context = {"form": form, "title": ticket.number, "ticket": ticket}
    return render(request, "service/tickets/form.html", context)


def _version(request: HttpRequest) -> int | None:
    return whole_number(request.POST.get("version"))


def _action(
    request: AuthedRequest, ticket_id: int, action: Callable[[Ticket], str]
) -> HttpResponseRedirect:
    ticket = get_editable_or_404(Ticket.objects.all(), request.user, pk=ticket_id)
    try:
        done = action(ticket)
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, done)
        if not Ticket.objects.visible_to(request.user).filter(pk=ticket_id).exists():
            return redirect("service:tickets")  # given to another team: out of sight now
    return redirect("service:ticket_detail", ticket_id)


@login_required
@require_POST
def ticket_assign(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    def assign(ticket: Ticket) -> str:
        assignee = whole_number(request.POST.get("assignee"))
        updated = services.ticket_assign(
            actor=request.user,
            ticket=ticket,
            assignee=assignee if assignee is not None else "",
            version=_version(request),
        )
        return _("Assigned to %(name)s.") % {"name": updated.assignee}

    return _action(request, ticket_id, assign)


@login_required
@require_POST
def ticket_status(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    def change(ticket: Ticket) -> str:
        updated = services.ticket_set_status(
            actor=request.user,
            ticket=ticket,
            status=request.POST.get("status", ""),
            reason=request.POST.get("reason", ""),
            version=_version(request),
        )
        return _("Status is now %(status)s.") % {"status": updated.get_status_display()}

    return _action(request, ticket_id, change)


@login_required
@require_POST
def ticket_reopen(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    def reopen(ticket: Ticket) -> str:
        services.ticket_reopen(
            actor=request.user,
            ticket=ticket,
            reason=request.POST.get("reason", ""),
            version=_version(request),
        )
        return _("Ticket reopened.")

    return _action(request, ticket_id, reopen)


@login_required
@require_POST
def ticket_reply(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    def reply(ticket: Ticket) -> str:
        services.ticket_reply(
            actor=request.user,
            ticket=ticket,
            body=request.POST.get("body", ""),
            version=_version(request),
        )
        return _("Reply sent to %(email)s.") % {"email": ticket.requester_email}

    return _action(request, ticket_id, reply)


@login_required
@require_POST
def ticket_note(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    def note(ticket: Ticket) -> str:
        services.ticket_note(
            actor=request.user,
            ticket=ticket,
            body=request.POST.get("body", ""),
            version=_version(request),
        )
        return _("Internal note added.")

    return _action(request, ticket_id, note)


@login_required
@require_POST
def ticket_merge(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    def merge(ticket: Ticket) -> str:
        number = request.POST.get("into", "").strip().upper()
        target = Ticket.objects.visible_to(request.user).filter(number=number).first()
        if target is None:
            raise InvalidInput(
                _("No ticket %(number)s that you can see.") % {"number": number or "—"},
                code="unknown_ticket",
            )
        services.ticket_merge(
            actor=request.user,
            ticket=ticket,
            into=target,
            reason=request.POST.get("reason", ""),
            version=_version(request),
        )
        return _("Merged into %(number)s.") % {"number": target.number}

    return _action(request, ticket_id, merge)


@login_required
@require_POST
def ticket_replan(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    def replan(ticket: Ticket) -> str:
        services.ticket_replan(
            actor=request.user,
            ticket=ticket,
            reason=request.POST.get("reason", ""),
            promised_response_at=request.POST.get("promised_response_at") or None,
            promised_resolution_at=request.POST.get("promised_resolution_at") or None,
            version=_version(request),
        )
        return _("Promise re-planned.")

    return _action(request, ticket_id, replan)


@login_required
@require_POST
def ticket_link(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    def link(ticket: Ticket) -> str:
        form = LinkForm(request.POST, user=request.user)
        if not form.is_valid():
            raise InvalidInput(_("Choose a customer you can see."), code="invalid_customer")
        customer = form.cleaned_data["customer"]
        services.ticket_link_customer(
            actor=request.user,
            ticket=ticket,
            customer=customer,
            contact=None,
            version=_version(request),
        )
        return _("Linked to %(name)s.") % {"name": customer.name}

    return _action(request, ticket_id, link)


urlpatterns: list[URLPattern] = [
    path("tickets/", ticket_list, name="tickets"),
    path("tickets/new/", ticket_create, name="ticket_new"),
    path("tickets/pick-customer/", ticket_customer_pick, name="ticket_customer_pick"),
    path("tickets/<int:ticket_id>/", ticket_detail, name="ticket_detail"),
    path("tickets/<int:ticket_id>/edit/", ticket_edit, name="ticket_edit"),
    path("tickets/<int:ticket_id>/assign/", ticket_assign, name="ticket_assign"),
    path("tickets/<int:ticket_id>/status/", ticket_status, name="ticket_status"),
    path("tickets/<int:ticket_id>/reopen/", ticket_reopen, name="ticket_reopen"),
    path("tickets/<int:ticket_id>/reply/", ticket_reply, name="ticket_reply"),
    path("tickets/<int:ticket_id>/note/", ticket_note, name="ticket_note"),
    path("tickets/<int:ticket_id>/merge/", ticket_merge, name="ticket_merge"),
    path("tickets/<int:ticket_id>/replan/", ticket_replan, name="ticket_replan"),
    path("tickets/<int:ticket_id>/link-customer/", ticket_link, name="ticket_link"),
]
