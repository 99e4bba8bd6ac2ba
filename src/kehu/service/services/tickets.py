"""Every write of a ticket (工单/需求): creation, the customer's messages, replies, notes,
assignment, the status flow, reopening, merging duplicates, re-planning the promise, triage.

Status flow 新建 → 已分配 → 处理中 → 等待客户 → 已解决 → 已关闭, with reopen. Waiting on the
customer pauses the SLA clock and leaving it resumes it (``services.sla``). Every write locks
the ticket row, checks the optional ``version`` (optimistic lock), bumps it and records a
``TicketEvent`` where the thread needs one. ``actor=None`` is the system (e-mail, web form):
no scope check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, make_msgid
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, Role, User
from kehu.core import custom_fields, events
from kehu.core.access import is_admin, lock_editable
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version, validate
from kehu.customers.models import Contact, Customer
from kehu.customers.numbering import reserve
from kehu.notifications.services import notify
from kehu.service.models import (
    Handover,
    HandoverStatus,
    Mailbox,
    MessageKind,
    RoutingTarget,
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketEventKind,
    TicketMessage,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from kehu.service.services import routing, sla

logger = logging.getLogger(__name__)

CREATE_FIELDS = {
    "subject",
    "content",
    "ticket_type",
    "priority",
    "product",
    "raised_at",
    "promised_response_at",
    "promised_resolution_at",
    "assignee",
}
UPDATE_FIELDS = {"subject", "content", "ticket_type", "priority", "product"}
ASSIGNABLE_ROLES = frozenset({Role.SERVICE, Role.MANAGER, Role.ADMIN})
MAX_BODY = 20000
MAX_REASON = 500

# Where a status may go with ``ticket_set_status`` (reopening has its own action).
TRANSITIONS: dict[str, frozenset[str]] = {
    TicketStatus.NEW: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.WAITING, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.ASSIGNED: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.WAITING, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.IN_PROGRESS: frozenset(
        {TicketStatus.WAITING, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.WAITING: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}

# --- the resolution hook ----------------------------------------------------------------------

TicketResolved = Callable[[Ticket], None]
_resolved_callbacks: list[TicketResolved] = []


def on_ticket_resolved(callback: TicketResolved) -> TicketResolved:
    """Call ``callback(ticket)`` after the commit of every write that resolves a ticket
    (apps register from ``AppConfig.ready()``; registering twice adds it once)."""
    if callback not in _resolved_callbacks:
        _resolved_callbacks.append(callback)
    return callback


def _ticket_resolved(ticket: Ticket) -> None:
    def run() -> None:
        for callback in list(_resolved_callbacks):
            try:
                callback(ticket)
            except Exception:  # one failing listener must not stop the others
                logger.exception("on_ticket_resolved callback failed for %s", ticket.pk)

    transaction.on_commit(run)


# --- helpers ----------------------------------------------------------------------------------


def may_create(user: User | None) -> bool:
    """Marketing reads customers but raises no tickets; everyone else may."""
    return user is None or is_admin(user) or user.role != Role.MARKETING


def _outward_event(kind: TicketEventKind, to_status: str) -> str:
    """The ``kehu.core.events`` name told to other apps (webhooks) for a ticket event."""
    if kind == TicketEventKind.CREATED:
        return "ticket.created"
    if kind == TicketEventKind.STATUS and to_status == TicketStatus.RESOLVED:
        return "ticket.resolved"
    if kind == TicketEventKind.STATUS and to_status == TicketStatus.CLOSED:
        return "ticket.closed"
    return "ticket.updated"


def _event(
    ticket: Ticket,
    kind: TicketEventKind,
    *,
    actor: User | None,
    now: datetime,
    from_status: str = "",
    to_status: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    events.emit(
        _outward_event(kind, to_status),
        ticket.pk,
        actor=actor,
        data={"kind": str(kind), "from_status": from_status, "to_status": to_status},
    )
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        data=data or {},
        at=now,
    )


def _lock(actor: User | None, ticket: Ticket | int, version: int | None) -> Ticket:
    pk = ticket if isinstance(ticket, int) else ticket.pk
    if actor is None:
        locked = Ticket.objects.select_for_update().filter(pk=pk).first()
        if locked is None:
            raise NotFound("ticket")
    else:
        locked = lock_editable(Ticket.objects.all(), actor, pk=pk)
    check_version(locked, version)
    return locked


def _save(ticket: Ticket, actor: User | None, reason: str = "") -> None:
    stamp(ticket, actor=actor, reason=reason[:100])
    bump_version(ticket)
    ticket.save()


def _refuse_closed(ticket: Ticket) -> None:
    if ticket.status == TicketStatus.CLOSED:
        raise Conflict(
            _("Ticket %(number)s is closed.") % {"number": ticket.number}, code="ticket_closed"
        )


def _clean_datetime(name: str, value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed: datetime | None = value
    else:
        try:
            parsed = parse_datetime(str(value).strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidInput(
            errors={name: [_("Enter a date and time such as 2026-12-06T14:30.")]},
            code="invalid_datetime",
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _clean_text(name: str, value: Any, *, required: bool, maximum: int) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise InvalidInput(errors={name: [_("This field is required.")]})
    if len(text) > maximum:
        raise InvalidInput(errors={name: [_("At most %(count)s characters.") % {"count": maximum}]})
    return text


def _clean_choice(name: str, value: Any, choices: list[str], default: str) -> str:
    if value is None or value == "":
        return default
    if value not in choices:
        raise InvalidInput(errors={name: [_("Unknown value %(value)s.") % {"value": value}]})
    return str(value)


def _resolve_assignee(value: Any) -> User | None:
    if value is None or value == "":
        return None
    if isinstance(value, User):
        user: User | None = value
    else:
        user = User.objects.filter(pk=value).first() if str(value).isdigit() else None
    if user is None or not user.is_active or user.role not in ASSIGNABLE_ROLES:
        raise InvalidInput(
            errors={"assignee": [_("Choose an active service user, manager or administrator.")]},
            code="invalid_assignee",
        )
    return user


def _clean_fields(data: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = set(data) - allowed
    if unknown:
        raise InvalidInput(
            errors={name: [_("This field cannot be set here.")] for name in sorted(unknown)}
        )
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if name == "subject":
            cleaned[name] = _clean_text(name, value, required=True, maximum=200)
        elif name == "content":
            cleaned[name] = _clean_text(name, value, required=True, maximum=MAX_BODY)
        elif name == "product":
            cleaned[name] = _clean_text(name, value, required=False, maximum=100)
        elif name == "ticket_type":
            cleaned[name] = _clean_choice(
                name, value, list(TicketType.values), TicketType.CONSULTATION
            )
        elif name == "priority":
            cleaned[name] = _clean_choice(
                name, value, list(TicketPriority.values), TicketPriority.MEDIUM
            )
        elif name in {"raised_at", "promised_response_at", "promised_resolution_at"}:
            cleaned[name] = _clean_datetime(name, value)
        elif name == "assignee":
            cleaned[name] = _resolve_assignee(value)
    return cleaned


def _check_promises(
    raised_at: datetime, response: datetime | None, resolution: datetime | None
) -> None:
    errors: dict[str, list[str]] = {}
    if response is not None and response < raised_at:
        errors["promised_response_at"] = [_("The promise cannot be before the ticket was raised.")]
    if resolution is not None and resolution < raised_at:
        errors["promised_resolution_at"] = [
            _("The promise cannot be before the ticket was raised.")
        ]
    if response is not None and resolution is not None and resolution < response:
        errors["promised_resolution_at"] = [_("Resolution cannot be promised before response.")]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors, code="invalid_promise")


def next_number(on: datetime) -> str:
    """ "T" + yymmdd + a four-digit daily sequence (T2612060001), unique under concurrency:
    the sequence row is taken with the customers' upsert (``numbering.reserve``)."""
    day = timezone.localtime(on).strftime("%y%m%d")
    return f"T{day}{reserve(f'ticket:T{day}'):04d}"


def _department_for(
    *, given: Department | None, assignee: User | None, rule_department_id: int | None, actor: Any
) -> int | None:
    if given is not None:
        return given.pk
    if rule_department_id:
        return rule_department_id
    if assignee is not None and assignee.department_id:
        return assignee.department_id
    if actor is not None and actor.role in {Role.SERVICE, Role.MANAGER}:
        return actor.department_id
    return None


def handed_to(customer: Customer) -> User | None:
    """The specialist the customer was handed over to (the latest completed handover): a
    ticket no rule appoints goes to them, so it stays within the customer's service scope."""
    handover = (
        Handover.objects.filter(
            customer=customer, status=HandoverStatus.COMPLETED, specialist__is_active=True
        )
        .select_related("specialist")
        .order_by("-confirmed_at", "-id")
        .first()
    )
    return handover.specialist if handover is not None else None


def _notify_assignee(ticket: Ticket, actor: User | None) -> None:
    if ticket.assignee is None or (actor is not None and ticket.assignee_id == actor.pk):
        return
    notify(
        recipients=[ticket.assignee],
        kind="ticket_assigned",
        title=_("Ticket %(number)s assigned to you") % {"number": ticket.number},
        body=ticket.subject,
        url=f"/service/tickets/{ticket.pk}/",
        actor=actor,
    )


# --- creation and the customer's messages ----------------------------------------------------


@transaction.atomic
def ticket_create(
    *,
    actor: User | None,
    data: dict[str, Any],
    channel: TicketChannel | str,
    customer: Customer | None = None,
    contact: Contact | None = None,
    requester_name: str = "",
    requester_email: str = "",
    email_message_id: str = "",
    department: Department | None = None,
) -> Ticket:
    if not may_create(actor):
        raise Forbidden(_("Your role may not raise tickets."))
    if channel not in TicketChannel.values:
        raise InvalidInput(errors={"channel": [_("Unknown channel.")]})
    if (
        actor is not None
        and customer is not None
        and not Customer.objects.visible_to(actor).filter(pk=customer.pk).exists()
    ):
        raise InvalidInput(
            errors={"customer": [_("Choose a customer you can see.")]}, code="invalid_customer"
        )
    if contact is not None and (customer is None or contact.customer_id != customer.pk):
        raise InvalidInput(
            errors={"contact": [_("The contact must belong to the customer.")]},
            code="invalid_contact",
        )
    data = dict(data)
    custom = custom_fields.take("ticket", data, user=actor, creating=True)
    cleaned = _clean_fields(
        {"subject": data.get("subject"), "content": data.get("content"), **data}, CREATE_FIELDS
    )
    now = timezone.now()
    raised_at = cleaned.pop("raised_at", None) or now
    if raised_at > now + timedelta(minutes=5):
        raise InvalidInput(errors={"raised_at": [_("A ticket cannot be raised in the future.")]})
    _check_promises(
        raised_at, cleaned.get("promised_response_at"), cleaned.get("promised_resolution_at")
    )
    assignee = cleaned.pop("assignee", None)
    requester_email = (requester_email or (contact.email if contact else "")).strip()
    requester_name = (requester_name or (contact.name if contact else "")).strip()
    ticket = Ticket(
        customer=customer,
        contact=contact,
        requester_name=requester_name[:100],
        requester_email=requester_email[:254],
        channel=channel,
        raised_at=raised_at,
        created_by=actor,
        custom=custom or {},
        **cleaned,
    )
    rule = None
    if assignee is None:
        appointment = routing.appoint(
            RoutingTarget.TICKET,
            ticket_type=ticket.ticket_type,
            region_code=(customer.region_id or "") if customer else "",
            industry_code=(customer.industry_id or "") if customer else "",
            product=ticket.product,
        )
        assignee, rule = appointment.user, appointment.rule
    if assignee is None and customer is not None:
        assignee = handed_to(customer)
    ticket.assignee = assignee
    ticket.assigned_by_rule = rule
    ticket.department_id = _department_for(
        given=department,
        assignee=assignee,
        rule_department_id=rule.department_id if rule else None,
        actor=actor,
    )
    ticket.status = TicketStatus.ASSIGNED if assignee is not None else TicketStatus.NEW
    ticket.number = next_number(now)
    sla.sla_start(ticket, now=now)
    validate(ticket)
    stamp(ticket, actor=actor, reason=_("Ticket created"))
    ticket.save()
    _event(
        ticket,
        TicketEventKind.CREATED,
        actor=actor,
        now=now,
        to_status=ticket.status,
        data={"channel": str(channel), "rule": rule.pk if rule else None},
    )
    if assignee is not None:
        _event(
            ticket,
            TicketEventKind.ASSIGNED,
            actor=actor,
            now=now,
            data={"to": assignee.pk, "to_name": str(assignee), "rule": rule.pk if rule else None},
        )
    TicketMessage.objects.create(
        ticket=ticket,
        kind=MessageKind.INBOUND,
        author=actor if channel in {TicketChannel.UI, TicketChannel.API} else None,
        sender=requester_email or requester_name,
        body=ticket.content,
        email_message_id=email_message_id[:255],
        created_at=raised_at,
    )
    _notify_assignee(ticket, actor)
    return ticket


def _reopen(ticket: Ticket, *, actor: User | None, now: datetime, reason: str = "") -> None:
    before = ticket.status
    ticket.status = TicketStatus.IN_PROGRESS if ticket.assignee_id else TicketStatus.NEW
    ticket.resolved_at = None
    ticket.closed_at = None
    ticket.resolution_minutes = None
    ticket.reopened_count += 1
    sla.sla_resume(ticket, now=now)
    _event(
        ticket,
        TicketEventKind.REOPENED,
        actor=actor,
        now=now,
        from_status=before,
        to_status=ticket.status,
        reason=reason[:MAX_REASON],
    )


@transaction.atomic
def ticket_add_inbound(
    *, ticket: Ticket, sender: str, body: str, email_message_id: str = ""
) -> TicketMessage:
    """The customer wrote again (an e-mail reply): waiting → in progress, resolved → reopened;
    a closed ticket refuses (``Conflict`` "ticket_closed": the caller opens a new one)."""
    locked = _lock(None, ticket, None)
    _refuse_closed(locked)
    text = _clean_text("body", body, required=True, maximum=MAX_BODY)
    now = timezone.now()
    if locked.status == TicketStatus.WAITING:
        locked.status = TicketStatus.IN_PROGRESS
        sla.sla_resume(locked, now=now)
        _event(
            locked,
            TicketEventKind.STATUS,
            actor=None,
            now=now,
            from_status=TicketStatus.WAITING,
            to_status=locked.status,
            reason=_("The customer answered."),
        )
    elif locked.status == TicketStatus.RESOLVED:
        _reopen(locked, actor=None, now=now, reason=_("The customer wrote again."))
    _save(locked, None)
    message = TicketMessage.objects.create(
        ticket=locked,
        kind=MessageKind.INBOUND,
        sender=sender[:254],
        body=text,
        email_message_id=email_message_id[:255],
        created_at=now,
    )
    return message


# --- replies and notes ------------------------------------------------------------------------


def _sender_address(ticket: Ticket) -> str:
    """Replies come from the team's polled mailbox, so the customer's answer lands there."""
    mailboxes = Mailbox.objects.filter(is_active=True).order_by("id")
    mailbox = (
        mailboxes.filter(department_id=ticket.department_id).first()
        if ticket.department_id
        else None
    ) or mailboxes.first()
    return mailbox.address if mailbox is not None else settings.DEFAULT_FROM_EMAIL


def reply_subject(ticket: Ticket) -> str:
    return f"[{ticket.number}] {ticket.subject}"


def _send_reply(message_id: int) -> None:
    message = TicketMessage.objects.select_related("ticket").get(pk=message_id)
    ticket = message.ticket
    from_email = _sender_address(ticket)
    thread = list(
        TicketMessage.objects.filter(ticket=ticket)
        .exclude(email_message_id="")
        .exclude(pk=message.pk)
        .order_by("created_at", "id")
        .values_list("kind", "email_message_id")
    )
    headers = {"Message-ID": message.email_message_id}
    inbound = [mid for kind, mid in thread if kind == MessageKind.INBOUND]
    if inbound:
        headers["In-Reply-To"] = inbound[-1]
    if thread:
        headers["References"] = " ".join(mid for _kind, mid in thread[-20:])
    try:
        sent = EmailMessage(
            subject=reply_subject(ticket),
            body=message.body,
            from_email=from_email,
            to=[ticket.requester_email],
            headers=headers,
        ).send()
        error = "" if sent == 1 else "the mail server did not accept the message"
    except Exception as failure:  # smtplib, socket and SSL errors alike
        error = f"{type(failure).__name__}: {failure}"
    if error:
        logger.warning("ticket reply %s not sent: %s", message.pk, error)
        TicketMessage.objects.filter(pk=message.pk).update(send_error=error[:500])
    else:
        TicketMessage.objects.filter(pk=message.pk).update(sent_at=timezone.now(), send_error="")


def resend_reply(message: TicketMessage) -> None:
    """Try the e-mail of a reply again (after a failure)."""
    if message.kind == MessageKind.REPLY and message.sent_at is None:
        _send_reply(message.pk)


@transaction.atomic
def ticket_reply(
    *, actor: User, ticket: Ticket, body: str, version: int | None = None
) -> TicketMessage:
    """A reply e-mailed to the requester ("[T…] subject", its Message-ID kept, In-Reply-To
    the customer's last message); the first one records the first response. The mail goes
    out after the commit; a failure is kept on the message (``send_error``)."""
    locked = _lock(actor, ticket, version)
    _refuse_closed(locked)
    text = _clean_text("body", body, required=True, maximum=MAX_BODY)
    if not locked.requester_email:
        raise InvalidInput(
            _("The ticket has no requester e-mail address; add an internal note instead."),
            errors={"body": [_("The ticket has no requester e-mail address.")]},
            code="no_requester_email",
        )
    now = timezone.now()
    sla.sla_record_response(locked, now=now)
    if locked.status in {TicketStatus.NEW, TicketStatus.ASSIGNED}:
        before = locked.status
        locked.status = TicketStatus.IN_PROGRESS
        _event(
            locked,
            TicketEventKind.STATUS,
            actor=actor,
            now=now,
            from_status=before,
            to_status=locked.status,
        )
    _save(locked, actor)
    domain = parseaddr(_sender_address(locked))[1].rpartition("@")[2] or "kehu.localhost"
    message = TicketMessage.objects.create(
        ticket=locked,
        kind=MessageKind.REPLY,
        author=actor,
        sender=str(actor),
        body=text,
        email_message_id=make_msgid(domain=domain),
        created_at=now,
    )
    transaction.on_commit(lambda: _send_reply(message.pk))
    return message


@transaction.atomic
def ticket_note(
    *, actor: User, ticket: Ticket, body: str, version: int | None = None
) -> TicketMessage:
    """An internal note: never e-mailed, shown only to staff."""
    locked = _lock(actor, ticket, version)
    text = _clean_text("body", body, required=True, maximum=MAX_BODY)
    _save(locked, actor)
    return TicketMessage.objects.create(
        ticket=locked, kind=MessageKind.NOTE, author=actor, sender=str(actor), body=text
    )


# --- assignment, status, reopen ---------------------------------------------------------------


@transaction.atomic
def ticket_assign(
    *, actor: User, ticket: Ticket, assignee: User | int | str, version: int | None = None
) -> Ticket:
    locked = _lock(actor, ticket, version)
    _refuse_closed(locked)
    user = _resolve_assignee(assignee)
    if user is None:
        raise InvalidInput(errors={"assignee": [_("Choose someone.")]}, code="invalid_assignee")
    if not (is_admin(actor) or actor.role in {Role.SERVICE, Role.MANAGER}):
        raise Forbidden(_("Only service staff and managers assign tickets."))
    if locked.assignee_id == user.pk:
        return locked
    now = timezone.now()
    before = locked.assignee
    locked.assignee = user
    locked.assigned_by_rule = None
    if user.department_id:
        locked.department_id = user.department_id
    status_before = locked.status
    if locked.status == TicketStatus.NEW:
        locked.status = TicketStatus.ASSIGNED
    _event(
        locked,
        TicketEventKind.ASSIGNED,
        actor=actor,
        now=now,
        from_status=status_before,
        to_status=locked.status,
        data={
            "from": before.pk if before else None,
            "from_name": str(before) if before else "",
            "to": user.pk,
            "to_name": str(user),
        },
    )
    _save(locked, actor)
    _notify_assignee(locked, actor)
    return locked


@transaction.atomic
def ticket_set_status(
    *,
    actor: User,
    ticket: Ticket,
    status: TicketStatus | str,
    reason: str = "",
    version: int | None = None,
    at: datetime | None = None,
) -> Ticket:
    """Move a ticket along ``TRANSITIONS``. ``at`` records a change that happened before now
    (the history of an imported ticket: its resolution date); it lies between the ticket's
    raising and now, and the SLA figures, resolved/closed times and the event take it."""
    locked = _lock(actor, ticket, version)
    if status not in TicketStatus.values:
        raise InvalidInput(errors={"status": [_("Unknown status.")]}, code="invalid_status")
    if locked.status == status:
        return locked
    _refuse_closed(locked)
    if status not in TRANSITIONS[locked.status]:
        raise Conflict(
            _("A ticket cannot go from %(from)s to %(to)s.")
            % {
                "from": TicketStatus(locked.status).label,
                "to": TicketStatus(status).label,
            },
            code="invalid_transition",
        )
    now = timezone.now()
    if at is not None:
        if timezone.is_naive(at):
            at = timezone.make_aware(at)
        if at > now + timedelta(minutes=5):
            raise InvalidInput(
                errors={"at": [_("A status change cannot lie in the future.")]},
                code="invalid_datetime",
            )
        if at < locked.raised_at:
            raise InvalidInput(
                errors={"at": [_("A status change cannot lie before the ticket was raised.")]},
                code="invalid_datetime",
            )
        now = min(at, now)
    before = locked.status
    if before == TicketStatus.WAITING:
        sla.sla_resume(locked, now=now)
    locked.status = status
    if status == TicketStatus.WAITING:
        sla.sla_pause(locked, now=now)
    elif status == TicketStatus.RESOLVED:
        sla.sla_record_resolution(locked, now=now)
    elif status == TicketStatus.CLOSED:
        if locked.resolved_at is None:
            sla.sla_record_resolution(locked, now=now)
        locked.closed_at = now
    _event(
        locked,
        TicketEventKind.STATUS,
        actor=actor,
        now=now,
        from_status=before,
        to_status=status,
        reason=reason.strip()[:MAX_REASON],
    )
    _save(locked, actor)
    if status == TicketStatus.RESOLVED:
        _ticket_resolved(locked)
    return locked


@transaction.atomic
def ticket_reopen(
    *, actor: User, ticket: Ticket, reason: str = "", version: int | None = None
) -> Ticket:
    locked = _lock(actor, ticket, version)
    if locked.status not in {TicketStatus.RESOLVED, TicketStatus.CLOSED}:
        raise Conflict(_("Only a resolved or closed ticket can be reopened."), code="not_resolved")
    if locked.merged_into_id is not None:
        raise Conflict(
            _("The ticket was merged into another; work on that one."), code="ticket_merged"
        )
    _reopen(locked, actor=actor, now=timezone.now(), reason=reason.strip())
    _save(locked, actor)
    return locked


# --- merge, re-plan, triage -------------------------------------------------------------------


@transaction.atomic
def ticket_merge(
    *,
    actor: User,
    ticket: Ticket,
    into: Ticket | int,
    reason: str = "",
    version: int | None = None,
) -> Ticket:
    """Close ``ticket`` as a duplicate of ``into``: its messages show on ``into``'s thread,
    both get a MERGED event. Returns the target."""
    target_pk = into if isinstance(into, int) else into.pk
    if target_pk == ticket.pk:
        raise InvalidInput(
            errors={"into": [_("A ticket cannot be merged into itself.")]}, code="merge_self"
        )
    # Lock both rows in id order so two opposite merges cannot deadlock.
    first, second = sorted([ticket.pk, target_pk])
    locked_rows = {
        pk: _lock(actor, pk, version if pk == ticket.pk else None) for pk in (first, second)
    }
    duplicate, target = locked_rows[ticket.pk], locked_rows[target_pk]
    _refuse_closed(duplicate)
    if target.status == TicketStatus.CLOSED:
        raise Conflict(
            _("Ticket %(number)s is closed; merge into an open ticket.")
            % {"number": target.number},
            code="target_closed",
        )
    now = timezone.now()
    before = duplicate.status
    duplicate.status = TicketStatus.CLOSED
    duplicate.merged_into = target
    duplicate.closed_at = now
    sla.sla_resume(duplicate, now=now)
    if duplicate.resolved_at is None:
        sla.sla_record_resolution(duplicate, now=now)
    Ticket.objects.filter(merged_into=duplicate).update(merged_into=target)
    text = reason.strip()[:MAX_REASON]
    _event(
        duplicate,
        TicketEventKind.MERGED,
        actor=actor,
        now=now,
        from_status=before,
        to_status=TicketStatus.CLOSED,
        reason=text,
        data={"into": target.pk, "into_number": target.number},
    )
    _event(
        target,
        TicketEventKind.MERGED,
        actor=actor,
        now=now,
        reason=text,
        data={"from": duplicate.pk, "from_number": duplicate.number},
    )
    _save(duplicate, actor, _("Merged into %(number)s") % {"number": target.number})
    _save(target, actor)
    return target


@transaction.atomic
def ticket_replan(
    *,
    actor: User,
    ticket: Ticket,
    reason: str,
    promised_response_at: Any = None,
    promised_resolution_at: Any = None,
    version: int | None = None,
) -> Ticket:
    """Move the promise told to the customer (重新规划并说明原因): a reason is required."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(
            _("Say why the promise is re-planned."),
            errors={"reason": [_("Say why the promise is re-planned.")]},
            code="reason_required",
        )
    if len(text) > MAX_REASON:
        raise InvalidInput(
            errors={"reason": [_("At most %(count)s characters.") % {"count": MAX_REASON}]}
        )
    response = _clean_datetime("promised_response_at", promised_response_at)
    resolution = _clean_datetime("promised_resolution_at", promised_resolution_at)
    if response is None and resolution is None:
        raise InvalidInput(
            errors={"promised_resolution_at": [_("Give the new promised time.")]},
            code="nothing_to_replan",
        )
    now = timezone.now()
    past = {
        name: [_("A new promise must lie in the future.")]
        for name, value in (
            ("promised_response_at", response),
            ("promised_resolution_at", resolution),
        )
        if value is not None and value <= now
    }
    if past:
        raise InvalidInput(next(iter(past.values()))[0], errors=past, code="promise_in_past")
    locked = _lock(actor, ticket, version)
    if not locked.is_open:
        raise Conflict(_("Only an open ticket's promise can be re-planned."), code="not_open")
    new_response = response or locked.promised_response_at
    new_resolution = resolution or locked.promised_resolution_at
    _check_promises(locked.raised_at, new_response, new_resolution)
    if (new_response, new_resolution) == (
        locked.promised_response_at,
        locked.promised_resolution_at,
    ):
        return locked

    def iso(value: datetime | None) -> str | None:
        return timezone.localtime(value).isoformat() if value else None

    _event(
        locked,
        TicketEventKind.REPLANNED,
        actor=actor,
        now=timezone.now(),
        reason=text,
        data={
            "old_response": iso(locked.promised_response_at),
            "new_response": iso(new_response),
            "old_resolution": iso(locked.promised_resolution_at),
            "new_resolution": iso(new_resolution),
        },
    )
    locked.promised_response_at = new_response
    locked.promised_resolution_at = new_resolution
    _save(locked, actor, text)
    return locked


@transaction.atomic
def ticket_link_customer(
    *,
    actor: User,
    ticket: Ticket,
    customer: Customer,
    contact: Contact | None = None,
    version: int | None = None,
) -> Ticket:
    """Attach a ticket (one in triage, from an unknown sender) to a customer the actor sees."""
    if not Customer.objects.visible_to(actor).filter(pk=customer.pk).exists():
        raise InvalidInput(
            errors={"customer": [_("Choose a customer you can see.")]}, code="invalid_customer"
        )
    if contact is not None and contact.customer_id != customer.pk:
        raise InvalidInput(
            errors={"contact": [_("The contact must belong to the customer.")]},
            code="invalid_contact",
        )
    locked = _lock(actor, ticket, version)
    _refuse_closed(locked)
    if locked.customer_id == customer.pk and (contact is None or locked.contact_id == contact.pk):
        return locked
    locked.customer = customer
    if contact is not None:
        locked.contact = contact
        if not locked.requester_email and contact.email:
            locked.requester_email = contact.email
        if not locked.requester_name:
            locked.requester_name = contact.name
    elif locked.contact is not None and locked.contact.customer_id != customer.pk:
        locked.contact = None
    _save(locked, actor, _("Linked to customer %(name)s") % {"name": customer.name})
    events.emit("ticket.updated", locked.pk, actor=actor, data={"fields": ["customer"]})
    return locked


@transaction.atomic
def ticket_update(
    *, actor: User, ticket: Ticket, data: dict[str, Any], version: int | None = None
) -> Ticket:
    """Edit the subject, content, type, priority, product or custom fields (the rest has its
    own action)."""
    data = dict(data)
    values = data.pop("custom", None)
    cleaned = _clean_fields(data, UPDATE_FIELDS)
    locked = _lock(actor, ticket, version)
    _refuse_closed(locked)
    changed = [name for name, value in cleaned.items() if getattr(locked, name) != value]
    custom = custom_fields.take(
        "ticket",
        {"custom": values} if values is not None else {},
        user=actor,
        current=locked.custom,
        masked=custom_fields.masked_for(actor, locked),
    )
    if custom is not None and custom != (locked.custom or {}):
        locked.custom = custom
        changed.append("custom")
    if not changed:
        return locked
    for name in changed:
        if name != "custom":
            setattr(locked, name, cleaned[name])
    validate(locked)
    _save(locked, actor)
    events.emit("ticket.updated", locked.pk, actor=actor, data={"fields": changed})
    return locked


def find_customer_by_email(address: str) -> tuple[Customer | None, Contact | None]:
    """The customer and contact an e-mail address belongs to (active contacts first)."""
    email = parseaddr(address)[1].strip()
    if not email:
        return None, None
    contact = (
        Contact.objects.filter(email__iexact=email)
        .select_related("customer")
        .order_by("-is_active", "-is_primary", "id")
        .first()
    )
    return (contact.customer, contact) if contact else (None, None)


__all__ = [
    "TRANSITIONS",
    "find_customer_by_email",
    "next_number",
    "on_ticket_resolved",
    "reply_subject",
    "resend_reply",
    "ticket_add_inbound",
    "ticket_assign",
    "ticket_create",
    "ticket_link_customer",
    "ticket_merge",
    "ticket_note",
    "ticket_reopen",
    "ticket_replan",
    "ticket_reply",
    "ticket_set_status",
    "ticket_update",
]
