"""The SLA clock of a ticket on business time: due times, pauses, warnings and escalation.

Due times come from the ``SlaPolicy`` of the ticket's priority and its customer's grade (else
the policy of the priority for any grade, else 2 h to respond and 24 h to resolve), counted in
business minutes on the calendar of ``services.calendar``. While the ticket waits on the
customer the clock stands still: resuming moves the due times later by the business minutes
paused. First-response and resolution times are recorded in business minutes, pauses left out.

The clock functions set fields on the ticket and never save it; the ticket services save.
``sla_check`` (a Huey job every few minutes) warns the person responsible once before a due
time (in working hours) and, at the breach, records it and tells them and the service
managers, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Role, User
from kehu.accounts.selectors import department_supervisors
from kehu.core import audit
from kehu.core.access import is_admin
from kehu.core.errors import Conflict, Forbidden, InvalidInput
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version
from kehu.customers.models import Grade
from kehu.notifications.services import notify
from kehu.service.models import (
    OPEN_TICKET_STATUSES,
    SlaPolicy,
    SlaState,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketPriority,
)
from kehu.service.services.calendar import (
    add_business_minutes,
    business_minutes_between,
    is_business_time,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

DEFAULT_RESPOND_MINUTES = 120
DEFAULT_RESOLVE_MINUTES = 24 * 60
DEFAULT_WARN_MINUTES = 30
MAX_POLICY_MINUTES = 365 * 24 * 60
RESPONSE = "response"
RESOLUTION = "resolution"


@dataclass(frozen=True)
class SlaStatus:
    state: SlaState
    due_at: datetime | None
    minutes_left: int | None  # business minutes; negative once breached; frozen while paused


def policy_for(ticket: Ticket) -> SlaPolicy | None:
    grade = ticket.customer.effective_grade if ticket.customer is not None else ""
    policies = {
        policy.customer_grade: policy
        for policy in SlaPolicy.objects.filter(
            priority=ticket.priority, is_active=True, customer_grade__in={grade, ""}
        )
    }
    return policies.get(grade) or policies.get("")


def _targets(ticket: Ticket) -> tuple[int, int]:
    policy = ticket.sla_policy
    if policy is None:
        return DEFAULT_RESPOND_MINUTES, DEFAULT_RESOLVE_MINUTES
    return policy.respond_minutes, policy.resolve_minutes


def sla_start(ticket: Ticket, *, now: datetime) -> None:
    ticket.sla_policy = policy_for(ticket)
    respond, resolve = _targets(ticket)
    ticket.response_due_at = add_business_minutes(ticket.raised_at, respond)
    ticket.resolution_due_at = add_business_minutes(ticket.raised_at, resolve)
    ticket.promised_response_at = ticket.promised_response_at or ticket.response_due_at
    ticket.promised_resolution_at = ticket.promised_resolution_at or ticket.resolution_due_at


def sla_pause(ticket: Ticket, *, now: datetime) -> None:
    if ticket.paused_at is None:
        ticket.paused_at = now


def sla_resume(ticket: Ticket, *, now: datetime) -> None:
    """End a pause: the due times still running move later by the business minutes paused."""
    if ticket.paused_at is None:
        return
    paused = max(0, business_minutes_between(ticket.paused_at, now))
    ticket.paused_at = None
    if paused == 0:
        return
    ticket.sla_paused_minutes = (ticket.sla_paused_minutes or 0) + paused
    if ticket.first_response_at is None and ticket.response_due_at:
        ticket.response_due_at = add_business_minutes(ticket.response_due_at, paused)
    if ticket.resolved_at is None and ticket.resolution_due_at:
        ticket.resolution_due_at = add_business_minutes(ticket.resolution_due_at, paused)


def _taken(ticket: Ticket, now: datetime) -> int:
    """Business minutes since the ticket was raised, pauses (the current one too) left out."""
    paused = ticket.sla_paused_minutes or 0
    if ticket.paused_at is not None:
        paused += max(0, business_minutes_between(ticket.paused_at, now))
    return max(0, business_minutes_between(ticket.raised_at, now) - paused)


def sla_record_response(ticket: Ticket, *, now: datetime) -> None:
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        ticket.response_minutes = _taken(ticket, now)
        if ticket.response_due_at and now > ticket.response_due_at:
            ticket.response_breached_at = ticket.response_breached_at or now
        ticket.warned_at = None  # the next warning is about the resolution


def sla_record_resolution(ticket: Ticket, *, now: datetime) -> None:
    ticket.resolved_at = now
    ticket.resolution_minutes = _taken(ticket, now)
    if ticket.resolution_due_at and now > ticket.resolution_due_at:
        ticket.resolution_breached_at = ticket.resolution_breached_at or now


def _warn_minutes(ticket: Ticket) -> int:
    return ticket.sla_policy.warn_before_minutes if ticket.sla_policy else DEFAULT_WARN_MINUTES


def sla_state(ticket: Ticket, *, now: datetime) -> SlaStatus:
    if not ticket.is_open:
        finished = ticket.resolved_at or ticket.closed_at or now
        met = ticket.resolution_due_at is None or finished <= ticket.resolution_due_at
        return SlaStatus(SlaState.MET if met else SlaState.BREACHED, ticket.resolution_due_at, None)
    due = ticket.response_due_at if ticket.first_response_at is None else ticket.resolution_due_at
    if due is None:
        return SlaStatus(SlaState.ON_TRACK, None, None)
    if ticket.paused_at is not None:
        return SlaStatus(SlaState.PAUSED, due, business_minutes_between(ticket.paused_at, due))
    left = business_minutes_between(now, due)
    if now > due:
        return SlaStatus(SlaState.BREACHED, due, min(left, -1))
    state = SlaState.WARNING if left <= _warn_minutes(ticket) else SlaState.ON_TRACK
    return SlaStatus(state, due, left)


# --- warnings and escalation ------------------------------------------------------------------


def service_managers(ticket: Ticket) -> list[User]:
    """Who hears of a breach: the head and managers of the nearest department, from the
    ticket's (else the assignee's) upwards, that has any (``department_supervisors``, as
    leads and deals escalate); admins when there are none."""
    department_id = ticket.department_id or (
        ticket.assignee.department_id if ticket.assignee is not None else None
    )
    managers = department_supervisors(department_id, exclude=ticket.assignee_id)
    if managers:
        return managers
    admins = User.objects.filter(is_active=True).filter(Q(role=Role.ADMIN) | Q(is_superuser=True))
    return [user for user in admins.order_by("pk") if user.pk != ticket.assignee_id]


def _ticket_url(ticket: Ticket) -> str:
    return reverse("service:ticket_detail", args=[ticket.pk])


def _when(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _target_label(target: str) -> str:
    return _("response") if target == RESPONSE else _("resolution")


def _warn(ticket: Ticket, target: str, due: datetime, left: int, now: datetime) -> None:
    recipients: Iterable[User] = (
        [ticket.assignee] if ticket.assignee is not None else service_managers(ticket)
    )
    notify(
        recipients=recipients,
        kind="sla_warning",
        title=_("Ticket %(number)s: %(target)s due in %(minutes)d business minutes")
        % {"number": ticket.number, "target": _target_label(target), "minutes": max(left, 0)},
        body=_("%(subject)s — due %(when)s") % {"subject": ticket.subject, "when": _when(due)},
        url=_ticket_url(ticket),
        dedupe_key=f"sla:warn:{ticket.pk}:{target}",
    )
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEventKind.WARNED,
        data={"target": target, "due_at": due.isoformat(), "minutes_left": left},
        at=now,
    )
    Ticket.objects.filter(pk=ticket.pk).update(warned_at=now)


def _breach(ticket: Ticket, target: str, due: datetime, now: datetime) -> None:
    field = "response_breached_at" if target == RESPONSE else "resolution_breached_at"
    recipients = [
        *([ticket.assignee] if ticket.assignee is not None else []),
        *service_managers(ticket),
    ]
    notify(
        recipients=recipients,
        kind="sla_breached",
        title=_("Ticket %(number)s: %(target)s SLA breached")
        % {"number": ticket.number, "target": _target_label(target)},
        body=_("%(subject)s — was due %(when)s, responsible: %(assignee)s")
        % {
            "subject": ticket.subject,
            "when": _when(due),
            "assignee": ticket.assignee or _("nobody"),
        },
        url=_ticket_url(ticket),
        dedupe_key=f"sla:breach:{ticket.pk}:{target}",
    )
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEventKind.BREACHED,
        data={"target": target, "due_at": due.isoformat()},
        at=now,
    )
    updates: dict[str, Any] = {field: now}
    if ticket.warned_at is None:
        updates["warned_at"] = now  # no warning after the breach of the same due time
    Ticket.objects.filter(pk=ticket.pk).update(**updates)


def _check_one(ticket_id: int, now: datetime) -> tuple[int, int]:
    """Warn about or escalate one ticket (locked); returns (warnings, breaches) sent."""
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("assignee", "sla_policy")
        .filter(pk=ticket_id, status__in=OPEN_TICKET_STATUSES, paused_at__isnull=True)
        .first()
    )
    if ticket is None:
        return 0, 0
    warned = breached = 0
    # Warnings go out in working hours (the first minutes after a holiday, not during it);
    # breaches whenever they happen.
    may_warn = is_business_time(now)
    due_times = []
    if ticket.first_response_at is None and ticket.response_due_at is not None:
        due_times.append((RESPONSE, ticket.response_due_at, ticket.response_breached_at))
    if ticket.resolution_due_at is not None:
        due_times.append((RESOLUTION, ticket.resolution_due_at, ticket.resolution_breached_at))
    for target, due, breached_at in due_times:
        if now > due:
            if breached_at is None:
                _breach(ticket, target, due, now)
                ticket.warned_at = ticket.warned_at or now
                breached += 1
            continue
        # One warning per due time: the response's while none was given, then the
        # resolution's (a warning from before the first response was the response's).
        if target == RESPONSE:
            pending = ticket.warned_at is None
        else:
            pending = ticket.first_response_at is not None and (
                ticket.warned_at is None or ticket.warned_at <= ticket.first_response_at
            )
        if pending and may_warn:
            left = business_minutes_between(now, due)
            if left <= _warn_minutes(ticket):
                _warn(ticket, target, due, left, now)
                ticket.warned_at = now
                warned += 1
    return warned, breached


def sla_check(now: datetime | None = None) -> dict[str, int]:
    """Warn before and escalate at the due times of open tickets whose clock runs.

    Only tickets with something to do are read: a due time within the longest warning
    window (in business minutes) and a warning or a breach not yet recorded. Each ticket is
    handled in its own transaction, under its row lock, so a ticket changed meanwhile is
    seen as it is now; the notifications' dedupe keys make a rerun harmless.
    """
    now = now or timezone.now()
    longest = SlaPolicy.objects.aggregate(longest=Max("warn_before_minutes"))["longest"]
    horizon = add_business_minutes(now, max(longest or 0, DEFAULT_WARN_MINUTES))
    running = Ticket.objects.filter(status__in=OPEN_TICKET_STATUSES, paused_at__isnull=True)
    response = running.filter(first_response_at__isnull=True, response_due_at__lte=horizon).filter(
        Q(warned_at__isnull=True) | Q(response_breached_at__isnull=True, response_due_at__lt=now)
    )
    resolution = running.filter(resolution_due_at__lte=horizon).filter(
        Q(warned_at__isnull=True, first_response_at__isnull=False)
        | Q(warned_at__lte=F("first_response_at"))
        | Q(resolution_breached_at__isnull=True, resolution_due_at__lt=now)
    )
    ids = sorted(
        set(response.values_list("pk", flat=True)) | set(resolution.values_list("pk", flat=True))
    )
    warned = breached = 0
    for ticket_id in ids:
        with transaction.atomic():
            one_warned, one_breached = _check_one(ticket_id, now)
        warned += one_warned
        breached += one_breached
    return {"checked": len(ids), "warned": warned, "breached": breached}


# --- policies (admins) ------------------------------------------------------------------------


def policies_in_order() -> list[SlaPolicy]:
    """High, medium, low; for each the grade's policies A–D, then the one for any grade."""
    rank = {priority: index for index, priority in enumerate(TicketPriority.values)}
    return sorted(
        SlaPolicy.objects.all(),
        key=lambda p: (rank.get(p.priority, 9), p.customer_grade == "", p.customer_grade),
    )


def policies_may_edit(user: User) -> bool:
    return is_admin(user)


def _check_admin(actor: User) -> None:
    if not policies_may_edit(actor):
        raise Forbidden(_("Only admins edit SLA policies."))


def _whole_minutes(value: Any, errors: list[str], *, minimum: int) -> int | None:
    if isinstance(value, bool):
        value = None
    try:
        number = int(value) if value is not None and str(value).strip() != "" else None
    except (TypeError, ValueError):
        number = None
    if number is None or (isinstance(value, float) and not value.is_integer()):
        errors.append(_("Enter a whole number of minutes."))
        return None
    if number < minimum:
        errors.append(
            _("Must be greater than zero.") if minimum > 0 else _("Must not be negative.")
        )
        return None
    if number > MAX_POLICY_MINUTES:
        errors.append(_("At most %(limit)d minutes.") % {"limit": MAX_POLICY_MINUTES})
        return None
    return number


def _clean_policy(data: dict[str, Any], policy: SlaPolicy | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if "priority" in data or policy is None:
        priority = str(data.get("priority") or "")
        if priority not in TicketPriority.values:
            errors["priority"] = [_("Choose high, medium or low.")]
        values["priority"] = priority
    if "customer_grade" in data:
        grade = str(data.get("customer_grade") or "")
        if grade and grade not in Grade.values:
            errors["customer_grade"] = [_("Choose a customer grade or leave it empty.")]
        values["customer_grade"] = grade
    for name, minimum in (
        ("respond_minutes", 1),
        ("resolve_minutes", 1),
        ("warn_before_minutes", 0),
    ):
        if name in data or (policy is None and name != "warn_before_minutes"):
            found: list[str] = []
            values[name] = _whole_minutes(data.get(name), found, minimum=minimum)
            if found:
                errors[name] = found
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            errors["is_active"] = [_("Enter true or false.")]
        values["is_active"] = bool(data["is_active"])
    if errors:
        raise InvalidInput(errors=errors)
    respond = values.get("respond_minutes", policy.respond_minutes if policy else None)
    resolve = values.get("resolve_minutes", policy.resolve_minutes if policy else None)
    if respond is not None and resolve is not None and resolve < respond:
        raise InvalidInput(
            errors={"resolve_minutes": [_("Resolving cannot take less time than responding.")]}
        )
    return values


def _duplicate() -> Conflict:
    return Conflict(
        _("A policy for this priority and customer grade exists already."),
        code="duplicate_policy",
        errors={"customer_grade": [_("A policy for this priority and grade exists already.")]},
    )


def _save_policy(policy: SlaPolicy) -> None:
    clash = SlaPolicy.objects.filter(
        priority=policy.priority, customer_grade=policy.customer_grade
    ).exclude(pk=policy.pk)
    if clash.exists():
        raise _duplicate()
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError as error:  # a concurrent writer won the unique constraint
        raise _duplicate() from error


@audit.audited("service.sla_policy_created")
@transaction.atomic
def policy_create(*, actor: User, data: dict[str, Any]) -> SlaPolicy:
    _check_admin(actor)
    policy = SlaPolicy(**_clean_policy(data, None))
    stamp(policy, actor=actor, reason=_("SLA policy created"))
    _save_policy(policy)
    return policy


@audit.audited("service.sla_policy_changed", target="policy")
@transaction.atomic
def policy_update(
    *, actor: User, policy: SlaPolicy, data: dict[str, Any], version: int | None
) -> SlaPolicy:
    """Change a policy; tickets keep the due times they were given (new tickets use it)."""
    _check_admin(actor)
    policy = SlaPolicy.objects.select_for_update().get(pk=policy.pk)
    check_version(policy, version)
    for name, value in _clean_policy(data, policy).items():
        setattr(policy, name, value)
    bump_version(policy)
    stamp(policy, actor=actor, reason=_("SLA policy changed"))
    _save_policy(policy)
    return policy


@audit.audited("service.slapolicy_deleted", target="policy")
@transaction.atomic
def policy_delete(*, actor: User, policy: SlaPolicy) -> None:
    _check_admin(actor)
    stamp(policy, actor=actor, reason=_("SLA policy deleted"))
    policy.delete()
