"""Assignment of leads by hand, by rule and in batch; confirmation, invalidation, review,
and the SLA and first-contact deadline checks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Role, User
from kehu.core import config
from kehu.core.access import is_admin, managed_department_ids
from kehu.core.bulk import copy_rows
from kehu.core.context import current_request_id
from kehu.core.errors import Conflict, Forbidden, InvalidInput
from kehu.core.history import stamp
from kehu.core.services import bump_version
from kehu.leads import conf, rules
from kehu.leads.models import (
    OPEN_STATUSES,
    AssignmentRun,
    EventKind,
    InvalidReason,
    Lead,
    LeadEvent,
    LeadStatus,
)
from kehu.leads.services._common import (
    _assign,
    _event,
    _lead_url,
    _lock,
    _notify,
    _now,
    lead_may_manage,
    managers_of,
)

BATCH_CHUNK = 2000


# --- Assignment by hand ----------------------------------------------------------------------
def _check_assignee(actor: User, assignee: User) -> None:
    if not assignee.is_active or assignee.role not in (Role.SALES, Role.MANAGER):
        raise InvalidInput(errors={"assignee": [_("Leads go to active sales reps or managers.")]})
    if not is_admin(actor) and assignee.department_id not in managed_department_ids(actor):
        raise InvalidInput(errors={"assignee": [_("This rep is not in your departments.")]})


@transaction.atomic
def lead_assign(*, actor: User, lead: Lead, assignee: User, note: str = "") -> Lead:
    lead = _lock(lead)
    if not lead_may_manage(actor, lead):
        raise Forbidden(_("Only admins and the department's managers assign leads."))
    if not lead.is_open:
        raise Conflict(_("This lead is no longer open."), code="lead_closed")
    _check_assignee(actor, assignee)
    _assign(lead, assignee=assignee, actor=actor, note=note, how="manual")
    return lead


# --- Confirmation and invalidation -----------------------------------------------------------
def lead_may_act(user: User, lead: Lead) -> bool:
    """Confirm or invalidate: the lead's assignee, or an admin."""
    return lead.assignee_id == user.pk or is_admin(user)


def _check_assignee_acts(actor: User, lead: Lead) -> None:
    if not lead_may_act(actor, lead):
        raise Forbidden(_("Only the lead's assignee can do this."))


@transaction.atomic
def lead_confirm(*, actor: User, lead: Lead, note: str = "") -> Lead:
    """The assignee reached the contact: the lead is contactable (and first contact is made)."""
    lead = _lock(lead)
    _check_assignee_acts(actor, lead)
    if lead.status != LeadStatus.ASSIGNED:
        raise Conflict(
            _("Only assigned leads awaiting confirmation can be confirmed."), code="bad_status"
        )
    now = _now()
    lead.status = LeadStatus.CONFIRMED
    lead.confirmed_at = now
    if lead.first_contact_at is None:
        lead.first_contact_at = now
    bump_version(lead)
    stamp(lead, actor=actor, reason=_("confirmed contactable"))
    lead.save()
    late = lead.confirm_due_at is not None and now > lead.confirm_due_at
    _event(lead, EventKind.CONFIRMED, actor=actor, note=note, data={"late": late})
    return lead


@transaction.atomic
def lead_invalidate(*, actor: User, lead: Lead, reason: str, note: str = "") -> Lead:
    lead = _lock(lead)
    _check_assignee_acts(actor, lead)
    if lead.status not in (LeadStatus.ASSIGNED, LeadStatus.CONFIRMED):
        raise Conflict(_("Only assigned leads can be marked invalid."), code="bad_status")
    note = (note or "").strip()
    if reason not in InvalidReason.values:
        raise InvalidInput(errors={"reason": [_("Not a valid choice.")]})
    if reason == InvalidReason.OTHER and not note:
        raise InvalidInput(errors={"note": [_("Describe the reason.")]})
    if len(note) > 500:
        raise InvalidInput(errors={"note": [_("At most %(limit)d characters.") % {"limit": 500}]})
    lead.status = LeadStatus.PENDING_REVIEW
    lead.invalid_reason = reason
    lead.invalid_note = note
    lead.invalidated_by = actor
    lead.invalidated_at = _now()
    bump_version(lead)
    stamp(lead, actor=actor, reason=_("marked invalid"))
    lead.save()
    _event(lead, EventKind.INVALIDATED, actor=actor, note=note, data={"reason": reason})
    _notify(
        recipients=User.objects.filter(is_active=True, role=Role.ADMIN),
        kind="lead_review",
        title=_("Lead to review: %(lead)s") % {"lead": lead},
        body=f"{InvalidReason(reason).label} {note}".strip(),
        url=_lead_url(lead.pk),
        actor=actor,
        dedupe_key=f"lead-review-{lead.pk}-{lead.version}",
    )
    return lead


def lead_may_review(user: User) -> bool:
    """Invalid leads are reviewed by admins only."""
    return is_admin(user)


class ReviewDecision:
    CLOSE = "close"
    REASSIGN = "reassign"


@transaction.atomic
def lead_review(
    *, actor: User, lead: Lead, decision: str, note: str = "", assignee: User | None = None
) -> Lead:
    """An admin closes an invalid lead or sends it back into assignment (another rep)."""
    lead = _lock(lead)
    if not lead_may_review(actor):
        raise Forbidden(_("Only admins review invalid leads."))
    if lead.status != LeadStatus.PENDING_REVIEW:
        raise Conflict(_("This lead is not waiting for review."), code="bad_status")
    if decision not in (ReviewDecision.CLOSE, ReviewDecision.REASSIGN):
        raise InvalidInput(errors={"decision": [_("Choose close or reassign.")]})
    if decision == ReviewDecision.CLOSE:
        lead.status = LeadStatus.CLOSED
        bump_version(lead)
        stamp(lead, actor=actor, reason=_("review: closed"))
        lead.save()
        _event(lead, EventKind.REVIEW_CLOSED, actor=actor, note=note)
        return lead
    previous = lead.assignee_id
    lead.status = LeadStatus.POOL
    lead.assignee = None
    lead.department = None
    lead.assigned_at = lead.confirm_due_at = lead.confirmed_at = lead.sla_breached_at = None
    lead.invalid_reason = ""
    bump_version(lead)
    stamp(lead, actor=actor, reason=_("review: back to assignment"))
    lead.save()
    _event(lead, EventKind.REVIEW_REASSIGNED, actor=actor, note=note, data={"previous": previous})
    if assignee is not None:
        _check_assignee(actor, assignee)
        _assign(lead, assignee=assignee, actor=actor, how="review")
    else:
        book = rules.load_rulebook(lock=True)
        picked = book.pick(lead, exclude=frozenset({previous}) if previous else frozenset())
        if picked is not None:
            rule, candidate = picked
            _assign(
                lead, assignee=User.objects.get(pk=candidate.user_id), actor=actor, rule=rule.name
            )
            book.save_cursors()
    return lead


# --- Batch assignment ------------------------------------------------------------------------
@dataclass(frozen=True)
class Proposal:
    lead: Lead
    rule: str
    user_id: int
    user_name: str


def leads_may_plan(user: User) -> bool:
    """Who sees the pool's planned assignment (dry run): admins and managers."""
    return is_admin(user) or user.role == Role.MANAGER


def assignment_dry_run(*, actor: User, leads: Sequence[Lead]) -> list[Proposal | None]:
    """Which rep each lead would get, by the rules as they stand; nothing is saved."""
    if not leads_may_plan(actor):
        raise Forbidden()
    book = rules.load_rulebook()
    proposals: list[Proposal | None] = []
    for lead in leads:
        picked = book.pick(lead)
        if picked is None:
            proposals.append(None)
        else:
            rule, candidate = picked
            proposals.append(Proposal(lead, rule.name, candidate.user_id, candidate.name))
    return proposals


@transaction.atomic
def assignment_batch(
    *, actor: User | None = None, scheduled_for: date | None = None
) -> AssignmentRun:
    """Assign every pooled lead by the rules, evaluated in memory, saved in bulk.

    Per chunk of pooled leads: one read (only the columns the rules look at), the assignment
    UPDATE (one ``UPDATE … FROM unnest`` on PostgreSQL, one per chosen rep elsewhere), one
    INSERT … SELECT that copies the new versions into the history table, and the business
    events (``COPY`` on PostgreSQL). Leads no rule places stay in the pool (the fallback pool).
    """
    if actor is not None and not is_admin(actor):
        raise Forbidden(_("Only admins run the batch assignment."))
    run = AssignmentRun.objects.create(triggered_by=actor, scheduled_for=scheduled_for)
    book = rules.load_rulebook(lock=True)
    now = _now()
    due = now + timedelta(minutes=int(config.get(conf.CONFIRM_SLA_MINUTES.key)))
    departments = dict(User.objects.filter(is_active=True).values_list("id", "department_id"))
    reason = str(_("batch assignment"))
    actor_id = actor.pk if actor is not None else None
    per_user: dict[int, int] = defaultdict(int)
    considered = 0
    last_id = 0
    while True:
        chunk = list(
            Lead.objects.filter(status=LeadStatus.POOL, pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", "region_id", "industry_id", "source", "priority")[:BATCH_CHUNK]
        )
        if not chunk:
            break
        last_id = chunk[-1][0]
        considered += len(chunk)
        by_user: dict[int, list[int]] = defaultdict(list)
        events: list[tuple[int, str, int]] = []
        for pk, region, industry, source, priority in chunk:
            picked = book.pick_values(
                region=region, industry=industry, source=source, priority=priority
            )
            if picked is None:
                continue
            rule, candidate = picked
            by_user[candidate.user_id].append(pk)
            events.append((pk, rule.name, candidate.user_id))
        assignments = [(pk, user_id, departments.get(user_id)) for pk, _rule, user_id in events]
        _assign_pooled(assignments, by_user, when=now, confirm_due=due)
        for user_id, ids in by_user.items():
            per_user[user_id] += len(ids)
        assigned_ids = [pk for pk, _rule, _user in events]
        if assigned_ids:
            _copy_to_history(assigned_ids, when=now, user_id=actor_id, reason=reason)
            _insert_events(events, actor_id=actor_id, when=now)
    book.save_cursors()
    run.considered = considered
    run.assigned = sum(per_user.values())
    run.finished_at = _now()
    run.save(update_fields=["considered", "assigned", "finished_at"])
    recipients = {user.pk: user for user in User.objects.filter(pk__in=per_user)}
    for user_id, count in per_user.items():
        _notify(
            recipients=[recipients[user_id]],
            kind="lead_assigned",
            title=_("%(count)d new leads were assigned to you") % {"count": count},
            body=_("Confirm within %(minutes)s minutes that they are contactable.")
            % {"minutes": config.get(conf.CONFIRM_SLA_MINUTES.key)},
            url=reverse("leads:mine"),
            actor=actor,
            dedupe_key=f"lead-batch-{run.pk}-{user_id}",
        )
    return run


def _assign_pooled(
    assignments: Sequence[tuple[int, int, int | None]],
    by_user: dict[int, list[int]],
    *,
    when: datetime,
    confirm_due: datetime,
) -> None:
    """Move pooled leads to their reps: (lead id, rep id, rep's department) per lead.

    PostgreSQL gets one ``UPDATE … FROM unnest(arrays)`` for the whole chunk (three array
    parameters, so the statement stays small however many leads it carries); elsewhere one
    UPDATE per rep, whose values are the same for all of the rep's leads. Leads that left the
    pool meanwhile are left alone either way.
    """
    if not assignments:
        return
    if connection.vendor != "postgresql":
        departments = {user_id: dept for _pk, user_id, dept in assignments}
        for user_id, ids in by_user.items():
            Lead.objects.filter(pk__in=ids, status=LeadStatus.POOL).update(
                assignee_id=user_id,
                department_id=departments[user_id],
                status=LeadStatus.ASSIGNED,
                assigned_at=when,
                confirm_due_at=confirm_due,
                confirmed_at=None,
                sla_breached_at=None,
                version=F("version") + 1,
                updated_at=when,
            )
        return
    table = connection.ops.quote_name(Lead._meta.db_table)
    sql = (
        f"UPDATE {table} AS target SET assignee_id = batch.assignee_id, "
        "department_id = batch.department_id, status = %s, assigned_at = %s, "
        "confirm_due_at = %s, confirmed_at = NULL, sla_breached_at = NULL, "
        "version = target.version + 1, updated_at = %s "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) "
        "AS batch(id, assignee_id, department_id) "
        "WHERE target.id = batch.id AND target.status = %s"
    )
    ids = [pk for pk, _user, _dept in assignments]
    users = [user_id for _pk, user_id, _dept in assignments]
    teams = [dept for _pk, _user, dept in assignments]
    params: list[Any] = [LeadStatus.ASSIGNED.value, when, confirm_due, when, ids, users, teams]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, LeadStatus.POOL.value])


def _copy_to_history(
    ids: Sequence[int], *, when: datetime, user_id: int | None, reason: str
) -> None:
    """Record the current version of many leads in their history with one INSERT … SELECT."""
    historical = Lead.history.model
    quote = connection.ops.quote_name
    tracked = [field.column for field in historical.tracked_fields]
    extra_columns = ["history_date", "history_change_reason", "history_type", "history_user_id"]
    extra_columns.append("request_id")
    columns = ", ".join(quote(c) for c in [*tracked, *extra_columns])
    selected = ", ".join(quote(c) for c in tracked)
    date_param = historical._meta.get_field("history_date").get_db_prep_save(when, connection)
    head = (
        f"INSERT INTO {quote(historical._meta.db_table)} ({columns}) "
        f"SELECT {selected}, %s, %s, %s, %s, %s FROM {quote(Lead._meta.db_table)} "
    )
    params = [date_param, reason, "~", user_id, current_request_id()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one array parameter for the whole chunk
            cursor.execute(head + f"WHERE {quote('id')} = ANY(%s::bigint[])", [*params, list(ids)])
            return
        for start in range(0, len(ids), 900):  # SQLite's limit on parameters
            part = list(ids[start : start + 900])
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(head + f"WHERE {quote('id')} IN ({marks})", [*params, *part])


def _insert_events(
    events: Sequence[tuple[int, str, int]], *, actor_id: int | None, when: datetime
) -> None:
    """The ASSIGNED business events of a batch: ``COPY`` on PostgreSQL, else executemany."""
    quote = connection.ops.quote_name
    meta = LeadEvent._meta
    data_field = meta.get_field("data")
    at = meta.get_field("at").get_db_prep_save(when, connection)
    kind = EventKind.ASSIGNED.value
    rows = [
        (
            pk,
            kind,
            actor_id,
            at,
            "",
            data_field.get_db_prep_save(
                {"assignee": user_id, "previous": None, "rule": rule}, connection
            ),
        )
        for pk, rule, user_id in events
    ]
    columns = ["lead_id", "kind", "actor_id", "at", "note", "data"]
    if connection.vendor == "postgresql":
        copy_rows(meta.db_table, columns, rows)
        return
    table = quote(meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * 6)
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def batch_time() -> time:
    text = str(config.get(conf.BATCH_TIME.key))
    try:
        hours, minutes = (int(part) for part in text.split(":", 1))
        return time(hours, minutes)
    except ValueError:
        return time(9, 0)


def assignment_batch_if_due(*, now: datetime | None = None) -> AssignmentRun | None:
    """Run today's scheduled batch once the configured local time has passed (idempotent)."""
    local = timezone.localtime(now or _now())
    if local.time() < batch_time():
        return None
    today = local.date()
    if AssignmentRun.objects.filter(scheduled_for=today).exists():
        return None
    return assignment_batch(scheduled_for=today)


# --- SLA and first-contact deadline checks ---------------------------------------------------
@transaction.atomic
def sla_check(*, now: datetime | None = None) -> int:
    """Flag assigned leads unconfirmed past their SLA and tell their managers (once per lead)."""
    now = now or _now()
    late = list(
        Lead.objects.select_for_update(of=("self",))
        .filter(status=LeadStatus.ASSIGNED, confirm_due_at__lt=now, sla_breached_at__isnull=True)
        .select_related("assignee")
    )
    for lead in late:
        lead.sla_breached_at = now
        stamp(lead, actor=None, reason=_("confirmation SLA missed"))
        lead.save(update_fields=["sla_breached_at", "updated_at"])
        _event(lead, EventKind.SLA_BREACHED, actor=None, data={"assignee": lead.assignee_id})
        _notify(
            recipients=managers_of(lead.department_id),
            kind="lead_sla_breached",
            title=_("Lead not confirmed in time: %(lead)s") % {"lead": lead},
            body=_("%(rep)s has not confirmed the lead.") % {"rep": lead.assignee},
            url=_lead_url(lead.pk),
            dedupe_key=f"lead-sla-{lead.pk}-{lead.assigned_at:%s}",
        )
    return len(late)


@transaction.atomic
def overdue_check(*, now: datetime | None = None) -> int:
    """Flag open leads past their first-contact deadline (异常预警); notify assignee and manager."""
    now = now or _now()
    overdue = list(
        Lead.objects.select_for_update(of=("self",))
        .filter(
            status__in=OPEN_STATUSES,
            first_contact_at__isnull=True,
            first_contact_due_at__lt=now,
            overdue_at__isnull=True,
        )
        .select_related("assignee")
    )
    for lead in overdue:
        lead.overdue_at = now
        stamp(lead, actor=None, reason=_("first-contact deadline missed"))
        lead.save(update_fields=["overdue_at", "updated_at"])
        _event(lead, EventKind.OVERDUE, actor=None, data={"priority": lead.priority})
        recipients = managers_of(lead.department_id)
        if lead.assignee is not None:
            recipients.append(lead.assignee)
        _notify(
            recipients=recipients,
            kind="lead_overdue",
            title=_("Lead overdue for first contact: %(lead)s") % {"lead": lead},
            body=_("Priority %(priority)s, due %(due)s.")
            % {
                "priority": lead.priority,
                "due": timezone.localtime(lead.first_contact_due_at).strftime("%Y-%m-%d %H:%M")
                if lead.first_contact_due_at
                else "",
            },
            url=_lead_url(lead.pk),
            dedupe_key=f"lead-overdue-{lead.pk}",
        )
    return len(overdue)
