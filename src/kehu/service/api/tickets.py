"""/api/v1/tickets: the tickets (工单/需求), their thread, events and actions.

Lists answer ``{"items", "count", "count_capped"}`` with ``limit``/``offset``; the ticket list
filters by ``tab`` (all, mine, team, triage), ``status`` (or ``open``), ``priority``, ``type``,
``sla`` (overdue, at_risk), ``customer``, ``assignee`` and ``q`` (number, subject, e-mail).
Writes take the ``version`` read last (optimistic lock: 409 ``stale_version`` when stale).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.core import custom_fields
from kehu.core.access import get_editable_or_404
from kehu.core.api import prevalidated_json
from kehu.core.errors import InvalidInput
from kehu.core.formatting import choice_label
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, narrowed, page_of
from kehu.customers.models import Contact, Customer
from kehu.service.models import (
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketMessage,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from kehu.service.selectors import tickets as selectors
from kehu.service.services import sla
from kehu.service.services import tickets as services

router = Router(tags=["service"])


class TicketOut(Schema):
    id: int
    number: str
    subject: str
    content: str
    ticket_type: str
    ticket_type_label: str
    priority: str
    priority_label: str
    status: str
    status_label: str
    channel: str
    customer_id: int | None
    customer_name: str
    contact_id: int | None
    requester_name: str
    requester_email: str
    product: str
    raised_at: datetime
    department_id: int | None
    assignee_id: int | None
    assignee_name: str
    promised_response_at: datetime | None
    promised_resolution_at: datetime | None
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    paused_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    response_minutes: int | None
    resolution_minutes: int | None
    reopened_count: int
    merged_into_id: int | None
    satisfaction: int | None
    sla_state: str
    sla_due_at: datetime | None
    sla_minutes_left: int | None
    custom: dict[str, Any] = Field(
        default_factory=dict,
        description=custom_fields.API_OUT,
        json_schema_extra={"additionalProperties": True},
    )
    version: int
    created_at: datetime
    updated_at: datetime


class TicketPage(BoundedPageOut):
    items: list[TicketOut]


class TicketIn(Schema):
    subject: str
    content: str
    customer_id: Id | None = None
    contact_id: Id | None = None
    ticket_type: str = "consultation"
    priority: str = "medium"
    product: str = ""
    raised_at: datetime | None = None
    promised_response_at: datetime | None = None
    promised_resolution_at: datetime | None = None
    assignee_id: Id | None = None
    requester_name: str = ""
    requester_email: str = ""
    custom: dict[str, Any] | None = Field(None, description=custom_fields.API_IN)


class TicketPatch(Schema):
    version: int
    subject: str | None = None
    content: str | None = None
    ticket_type: str | None = None
    priority: str | None = None
    product: str | None = None
    custom: dict[str, Any] | None = Field(None, description=custom_fields.API_IN)


class AssignIn(Schema):
    assignee_id: Id
    version: int | None = None


class StatusIn(Schema):
    status: str
    reason: str = ""
    version: int | None = None


class ReasonIn(Schema):
    reason: str = ""
    version: int | None = None


class BodyIn(Schema):
    body: str
    version: int | None = None


class MergeIn(Schema):
    into_id: Id
    reason: str = ""
    version: int | None = None


class ReplanIn(Schema):
    reason: str
    promised_response_at: datetime | None = None
    promised_resolution_at: datetime | None = None
    version: int | None = None


class LinkIn(Schema):
    customer_id: Id
    contact_id: Id | None = None
    version: int | None = None


class MessageOut(Schema):
    id: int
    ticket_id: int
    ticket_number: str
    kind: str
    kind_label: str
    author_id: int | None
    author_name: str
    sender: str
    body: str
    email_message_id: str
    sent_at: datetime | None
    send_error: str
    created_at: datetime


class MessagePage(BoundedPageOut):
    items: list[MessageOut]


class EventOut(Schema):
    id: int
    kind: str
    kind_label: str
    actor_id: int | None
    actor_name: str
    from_status: str
    to_status: str
    reason: str
    data: dict[str, Any]
    at: datetime


class EventPage(BoundedPageOut):
    items: list[EventOut]


def ticket_out(ticket: Ticket, now: datetime | None = None, *, user: Any = None) -> dict[str, Any]:
    """A ticket as the API shows it; its custom fields as ``user`` sees them (none without)."""
    state = sla.sla_state(ticket, now=now or timezone.now())
    custom = (
        custom_fields.shown_values(
            "ticket", user, ticket.custom, masked=custom_fields.masked_for(user, ticket)
        )
        if user is not None
        else {}
    )
    return {
        "custom": custom,
        "id": ticket.pk,
        "number": ticket.number,
        "subject": ticket.subject,
        "content": ticket.content,
        "ticket_type": ticket.ticket_type,
        "ticket_type_label": choice_label(TicketType, ticket.ticket_type),
        "priority": ticket.priority,
        "priority_label": choice_label(TicketPriority, ticket.priority),
        "status": ticket.status,
        "status_label": choice_label(TicketStatus, ticket.status),
        "channel": ticket.channel,
        "customer_id": ticket.customer_id,
        "customer_name": ticket.customer.name if ticket.customer else "",
        "contact_id": ticket.contact_id,
        "requester_name": ticket.requester_name,
        "requester_email": ticket.requester_email,
        "product": ticket.product,
        "raised_at": ticket.raised_at,
        "department_id": ticket.department_id,
        "assignee_id": ticket.assignee_id,
        "assignee_name": str(ticket.assignee) if ticket.assignee else "",
        "promised_response_at": ticket.promised_response_at,
        "promised_resolution_at": ticket.promised_resolution_at,
        "response_due_at": ticket.response_due_at,
        "resolution_due_at": ticket.resolution_due_at,
        "paused_at": ticket.paused_at,
        "first_response_at": ticket.first_response_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "response_minutes": ticket.response_minutes,
        "resolution_minutes": ticket.resolution_minutes,
        "reopened_count": ticket.reopened_count,
        "merged_into_id": ticket.merged_into_id,
        "satisfaction": ticket.satisfaction,
        "sla_state": str(state.state),
        "sla_due_at": state.due_at,
        "sla_minutes_left": state.minutes_left,
        "version": ticket.version,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }


def message_out(message: TicketMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "ticket_id": message.ticket_id,
        "ticket_number": message.ticket.number,
        "kind": message.kind,
        "kind_label": str(message.get_kind_display()),
        "author_id": message.author_id,
        "author_name": str(message.author) if message.author else "",
        "sender": message.sender,
        "body": message.body,
        "email_message_id": message.email_message_id,
        "sent_at": message.sent_at,
        "send_error": message.send_error,
        "created_at": message.created_at,
    }


def event_out(event: TicketEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "kind": event.kind,
        "kind_label": str(event.get_kind_display()),
        "actor_id": event.actor_id,
        "actor_name": str(event.actor) if event.actor else "",
        "from_status": event.from_status,
        "to_status": event.to_status,
        "reason": event.reason,
        "data": event.data,
        "at": event.at,
    }


def _reloaded(request: AuthedRequest, ticket_id: int) -> dict[str, Any]:
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    return ticket_out(ticket, user=request.user)


def _written(ticket_id: int, user: Any) -> dict[str, Any]:
    """The ticket after the actor's write: read unscoped, since the write may take it out
    of their sight (given to someone of another team) and the answer is still theirs."""
    return ticket_out(
        Ticket.objects.select_related("customer", "assignee", "sla_policy").get(pk=ticket_id),
        user=user,
    )


def _editable(request: AuthedRequest, ticket_id: int) -> Ticket:
    return get_editable_or_404(Ticket.objects.all(), request.user, pk=ticket_id)


def _customer(customer_id: int | None, field: str = "customer") -> Customer | None:
    if customer_id is None:
        return None
    found = Customer.objects.filter(pk=customer_id).first()
    if found is None:
        raise InvalidInput(
            errors={field: [_("Choose a customer you can see.")]}, code="invalid_customer"
        )
    return found


def _contact(contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    found = Contact.objects.filter(pk=contact_id).first()
    if found is None:
        raise InvalidInput(errors={"contact": [_("The contact must belong to the customer.")]})
    return found


@router.get("/tickets", response=TicketPage)
def list_tickets(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> HttpResponse:
    filters = selectors.TicketFilters.parse(request.GET)
    if filters.custom_error:  # a custom-field filter names no filterable field or value
        raise InvalidInput(errors={"cf": [filters.custom_error]})
    rows = selectors.ticket_list(user=request.user, filters=filters)
    known = None
    if filters.q:  # a LIKE the planner can only guess at: read the matches' keys first
        rows, known = narrowed(rows)
    page = page_of(rows, offset=offset, limit=limit, known=known)
    now = timezone.now()
    page["items"] = [ticket_out(row, now, user=request.user) for row in page["items"]]
    return prevalidated_json(request, page)


@router.post("/tickets", response={201: TicketOut})
def create_ticket(request: AuthedRequest, payload: TicketIn) -> Status[dict[str, Any]]:
    data = payload.dict(
        exclude={
            "customer_id",
            "contact_id",
            "assignee_id",
            "requester_name",
            "requester_email",
        }
    )
    if payload.assignee_id is not None:
        data["assignee"] = payload.assignee_id
    ticket = services.ticket_create(
        actor=request.user,
        data=data,
        channel=TicketChannel.API,
        customer=_customer(payload.customer_id),
        contact=_contact(payload.contact_id),
        requester_name=payload.requester_name,
        requester_email=payload.requester_email,
    )
    return Status(201, _written(ticket.pk, request.user))


@router.get("/tickets/{ticket_id}", response=TicketOut)
def get_ticket(request: AuthedRequest, ticket_id: int) -> dict[str, Any]:
    return _reloaded(request, ticket_id)


@router.patch("/tickets/{ticket_id}", response=TicketOut)
def update_ticket(request: AuthedRequest, ticket_id: int, payload: TicketPatch) -> dict[str, Any]:
    ticket = _editable(request, ticket_id)
    data = payload.dict(exclude_unset=True, exclude={"version"})
    services.ticket_update(actor=request.user, ticket=ticket, data=data, version=payload.version)
    return _written(ticket_id, request.user)


@router.post("/tickets/{ticket_id}/assign", response=TicketOut)
def assign_ticket(request: AuthedRequest, ticket_id: int, payload: AssignIn) -> dict[str, Any]:
    ticket = _editable(request, ticket_id)
    services.ticket_assign(
        actor=request.user, ticket=ticket, assignee=payload.assignee_id, version=payload.version
    )
    return _written(ticket_id, request.user)


@router.post("/tickets/{ticket_id}/status", response=TicketOut)
def set_ticket_status(request: AuthedRequest, ticket_id: int, payload: StatusIn) -> dict[str, Any]:
    ticket = _editable(request, ticket_id)
    services.ticket_set_status(
        actor=request.user,
        ticket=ticket,
        status=payload.status,
        reason=payload.reason,
        version=payload.version,
    )
    return _written(ticket_id, request.user)


@router.post("/tickets/{ticket_id}/reopen", response=TicketOut)
def reopen_ticket(request: AuthedRequest, ticket_id: int, payload: ReasonIn) -> dict[str, Any]:
    ticket = _editable(request, ticket_id)
    services.ticket_reopen(
        actor=request.user, ticket=ticket, reason=payload.reason, version=payload.version
    )
    return _written(ticket_id, request.user)


@router.post("/tickets/{ticket_id}/reply", response={201: MessageOut})
def reply_to_ticket(
    request: AuthedRequest, ticket_id: int, payload: BodyIn
) -> Status[dict[str, Any]]:
    ticket = _editable(request, ticket_id)
    message = services.ticket_reply(
        actor=request.user, ticket=ticket, body=payload.body, version=payload.version
    )
    return Status(201, message_out(message))


@router.post("/tickets/{ticket_id}/note", response={201: MessageOut})
def note_on_ticket(
    request: AuthedRequest, ticket_id: int, payload: BodyIn
) -> Status[dict[str, Any]]:
    ticket = _editable(request, ticket_id)
    message = services.ticket_note(
        actor=request.user, ticket=ticket, body=payload.body, version=payload.version
    )
    return Status(201, message_out(message))


@router.post("/tickets/{ticket_id}/merge", response=TicketOut)
def merge_ticket(request: AuthedRequest, ticket_id: int, payload: MergeIn) -> dict[str, Any]:
    ticket = _editable(request, ticket_id)
    target = services.ticket_merge(
        actor=request.user,
        ticket=ticket,
        into=payload.into_id,
        reason=payload.reason,
        version=payload.version,
    )
    return _written(target.pk, request.user)


@router.post("/tickets/{ticket_id}/replan", response=TicketOut)
def replan_ticket(request: AuthedRequest, ticket_id: int, payload: ReplanIn) -> dict[str, Any]:
    ticket = _editable(request, ticket_id)
    services.ticket_replan(
        actor=request.user,
        ticket=ticket,
        reason=payload.reason,
        promised_response_at=payload.promised_response_at,
        promised_resolution_at=payload.promised_resolution_at,
        version=payload.version,
    )
    return _written(ticket_id, request.user)


@router.post("/tickets/{ticket_id}/link-customer", response=TicketOut)
def link_ticket_customer(request: AuthedRequest, ticket_id: int, payload: LinkIn) -> dict[str, Any]:
    ticket = _editable(request, ticket_id)
    customer = _customer(payload.customer_id)
    assert customer is not None
    services.ticket_link_customer(
        actor=request.user,
        ticket=ticket,
        customer=customer,
        contact=_contact(payload.contact_id),
        version=payload.version,
    )
    return _written(ticket_id, request.user)


@router.get("/tickets/{ticket_id}/messages", response=MessagePage)
def list_ticket_messages(
    request: AuthedRequest,
    ticket_id: int,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    page = page_of(selectors.ticket_messages(ticket), offset=offset, limit=limit)
    page["items"] = [message_out(message) for message in page["items"]]
    return page


@router.get("/tickets/{ticket_id}/events", response=EventPage)
def list_ticket_events(
    request: AuthedRequest,
    ticket_id: int,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    page = page_of(selectors.ticket_events(ticket), offset=offset, limit=limit)
    page["items"] = [event_out(event) for event in page["items"]]
    return page
