"""The SLA clock of a ticket: due times, pauses while waiting on the customer, the state.

INTERIM (to be replaced by the business-calendar version): minutes are counted on the wall
clock. The functions set fields on the ticket and never save it; the ticket services save.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kehu.service.models import SlaPolicy, SlaState, Ticket

DEFAULT_RESPOND_MINUTES = 120
DEFAULT_RESOLVE_MINUTES = 24 * 60


@dataclass(frozen=True)
class SlaStatus:
    state: SlaState
    due_at: datetime | None
    minutes_left: int | None  # negative once breached


def policy_for(ticket: Ticket) -> SlaPolicy | None:
    grade = ticket.customer.effective_grade if ticket.customer is not None else ""
    policies = SlaPolicy.objects.filter(priority=ticket.priority, is_active=True)
    return (
        policies.filter(customer_grade=grade).first() or policies.filter(customer_grade="").first()
    )


def sla_start(ticket: Ticket, *, now: datetime) -> None:
    policy = policy_for(ticket)
    ticket.sla_policy = policy
    respond = policy.respond_minutes if policy else DEFAULT_RESPOND_MINUTES
    resolve = policy.resolve_minutes if policy else DEFAULT_RESOLVE_MINUTES
    ticket.response_due_at = ticket.raised_at + timedelta(minutes=respond)
    ticket.resolution_due_at = ticket.raised_at + timedelta(minutes=resolve)
    ticket.promised_response_at = ticket.promised_response_at or ticket.response_due_at
    ticket.promised_resolution_at = ticket.promised_resolution_at or ticket.resolution_due_at


def sla_pause(ticket: Ticket, *, now: datetime) -> None:
    if ticket.paused_at is None:
        ticket.paused_at = now


def sla_resume(ticket: Ticket, *, now: datetime) -> None:
    if ticket.paused_at is None:
        return
    paused = now - ticket.paused_at
    if ticket.first_response_at is None and ticket.response_due_at:
        ticket.response_due_at += paused
    if ticket.resolution_due_at:
        ticket.resolution_due_at += paused
    ticket.paused_at = None


def sla_record_response(ticket: Ticket, *, now: datetime) -> None:
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        ticket.response_minutes = int((now - ticket.raised_at).total_seconds() // 60)


def sla_record_resolution(ticket: Ticket, *, now: datetime) -> None:
    ticket.resolved_at = now
    ticket.resolution_minutes = int((now - ticket.raised_at).total_seconds() // 60)


def sla_state(ticket: Ticket, *, now: datetime) -> SlaStatus:
    if ticket.resolved_at is not None and not ticket.is_open:
        met = ticket.resolution_due_at is None or ticket.resolved_at <= ticket.resolution_due_at
        return SlaStatus(SlaState.MET if met else SlaState.BREACHED, ticket.resolution_due_at, None)
    due = ticket.response_due_at if ticket.first_response_at is None else ticket.resolution_due_at
    if ticket.paused_at is not None:
        return SlaStatus(SlaState.PAUSED, due, None)
    if due is None:
        return SlaStatus(SlaState.ON_TRACK, None, None)
    left = int((due - now).total_seconds() // 60)
    if left < 0:
        return SlaStatus(SlaState.BREACHED, due, left)
    warn = ticket.sla_policy.warn_before_minutes if ticket.sla_policy else 30
    return SlaStatus(SlaState.WARNING if left <= warn else SlaState.ON_TRACK, due, left)
