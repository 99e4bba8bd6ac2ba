"""Every write on leads: capture, assignment, confirmation, invalidation/review, conversion.

Keyword-only functions with an explicit acting user; the UI, the API, the public web form,
imports and the scheduled jobs all call these, so they behave identically.
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Department, Role, User
from kehu.core import config
from kehu.core.access import is_admin, managed_department_ids
from kehu.core.bulk import copy_rows
from kehu.core.context import current_request_id
from kehu.core.errors import Conflict, Forbidden, InvalidInput, KehuError
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version
from kehu.customers.models import Industry, Priority, Region, Source
from kehu.customers.normalize import email_normalised, phone_e164
from kehu.leads import conf, rules
from kehu.leads.models import (
    OPEN_STATUSES,
    AssignmentRule,
    AssignmentRun,
    EventKind,
    InvalidReason,
    Lead,
    LeadEvent,
    LeadStatus,
    Urgency,
    WebForm,
)

BATCH_CHUNK = 2000


class RateLimited(KehuError):
    status = 429
    code = "rate_limited"
    default_detail = gettext_lazy("Too many submissions from your address; try again later.")


# --- Helpers ---------------------------------------------------------------------------------
def _event(
    lead: Lead, kind: str, *, actor: Any, note: str = "", data: dict[str, Any] | None = None
) -> LeadEvent:
    return LeadEvent.objects.create(
        lead=lead,
        kind=kind,
        actor=actor if _is_user(actor) else None,
        note=note[:500],
        data=data or {},
    )


def _is_user(actor: Any) -> bool:
    return isinstance(actor, User)


def _lead_url(lead_id: int) -> str:
    return reverse("leads:detail", args=[lead_id])


def _notify(
    *,
    recipients: Iterable[User],
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    actor: Any = None,
    dedupe_key: str = "",
) -> None:
    """An in-app notification, created in the same transaction as the change it reports."""
    from kehu.notifications.services import notify

    users = [user for user in recipients if user is not None]
    if users:
        notify(
            recipients=users,
            kind=kind,
            title=title,
            body=body,
            url=url,
            actor=actor if _is_user(actor) else None,
            dedupe_key=dedupe_key,
        )


def managers_of(department_id: int | None) -> list[User]:
    """Who answers for a department's leads: its supervisors, else the CRM admins."""
    from kehu.accounts.selectors import department_supervisors

    return department_supervisors(department_id) or list(
        User.objects.filter(is_active=True, role=Role.ADMIN)
    )


def _lock(lead: Lead) -> Lead:
    return Lead.objects.select_for_update().get(pk=lead.pk)


def _now() -> datetime:
    return timezone.now()


# --- Input cleaning --------------------------------------------------------------------------
TEXT_FIELDS = {
    "company_name": 200,
    "contact_name": 100,
    "need": 5000,
    "source_detail": 200,
}
EDITABLE_FIELDS = {
    "company_name", "contact_name", "mobile", "email", "region", "industry", "need",
    "urgency", "estimated_value", "priority", "source", "source_detail",
}  # fmt: skip


def _region(value: Any) -> Region | None:
    if value in (None, ""):
        return None
    if isinstance(value, Region):
        return value
    text = str(value).strip()
    region = Region.objects.filter(Q(code=text) | Q(name=text)).order_by("level", "code").first()
    if region is None:
        raise InvalidInput(errors={"region": [_("Unknown region “%(value)s”.") % {"value": text}]})
    return region


def _industry(value: Any) -> Industry | None:
    if value in (None, ""):
        return None
    if isinstance(value, Industry):
        return value
    text = str(value).strip()
    industry = Industry.objects.filter(Q(code=text) | Q(name=text)).order_by("code").first()
    if industry is None:
        raise InvalidInput(
            errors={"industry": [_("Unknown industry “%(value)s”.") % {"value": text}]}
        )
    return industry


def clean_lead_data(
    data: dict[str, Any], *, partial: bool = False, require_mobile: bool = False
) -> dict[str, Any]:
    """Validate lead input from any channel; raise InvalidInput with every field's problem."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        for name in sorted(unknown):
            errors[name] = [_("Unknown field.")]
    for name, limit in TEXT_FIELDS.items():
        if name in data:
            text = str(data[name] or "").strip()
            if len(text) > limit:
                errors[name] = [_("At most %(limit)d characters.") % {"limit": limit}]
            values[name] = text
    if "mobile" in data:
        raw = str(data["mobile"] or "").strip()
        if raw:
            normalised = phone_e164(raw)
            if normalised is None:
                errors["mobile"] = [_("“%(value)s” is not a valid phone number.") % {"value": raw}]
            values["mobile"] = normalised or ""
        else:
            values["mobile"] = ""
    if "email" in data:
        raw = str(data["email"] or "").strip()
        if raw:
            normalised = email_normalised(raw)
            if normalised is None:
                errors["email"] = [_("“%(value)s” is not a valid e-mail address.") % {"value": raw}]
            values["email"] = normalised or ""
        else:
            values["email"] = ""
    for name, resolve in (("region", _region), ("industry", _industry)):
        if name in data:
            try:
                values[name] = resolve(data[name])
            except InvalidInput as error:
                errors.update(error.errors)
    for name, choices in (("urgency", Urgency), ("source", Source), ("priority", Priority)):
        if name in data:
            value = str(data[name] or "")
            if value and value not in choices.values:
                errors[name] = [_("Not a valid choice.")]
            values[name] = value
    if "estimated_value" in data:
        raw_value = data["estimated_value"]
        if raw_value in (None, ""):
            values["estimated_value"] = None
        else:
            try:
                amount = Decimal(str(raw_value))
            except InvalidOperation:
                amount = Decimal(-1)
            if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 12:
                errors["estimated_value"] = [_("Enter an amount of zero or more.")]
            values["estimated_value"] = amount
    if not partial:
        if not values.get("contact_name"):
            errors.setdefault("contact_name", [_("This field is required.")])
        if not values.get("source"):
            errors.setdefault("source", [_("This field is required.")])
        if require_mobile and not values.get("mobile") and "mobile" not in errors:
            errors["mobile"] = [_("A mobile number is required.")]
        if (
            not values.get("mobile")
            and not values.get("email")
            and "mobile" not in errors
            and "email" not in errors
        ):
            errors["mobile"] = [_("Give a mobile number or an e-mail address.")]
    if errors:
        first = next(iter(errors.values()))[0]
        raise InvalidInput(first, errors=errors)
    return values


# --- Capture ---------------------------------------------------------------------------------
@transaction.atomic
def lead_capture(
    *,
    actor: User | None,
    data: dict[str, Any],
    form: WebForm | None = None,
    extra: dict[str, Any] | None = None,
) -> Lead:
    """Create a lead from any channel (UI, API, web form, import) and assign it when enabled.

    A lead a sales rep enters themselves is theirs; others go through the assignment rules
    (when ``leads.assign_on_capture`` is on) or wait in the pool for the daily batch.
    """
    data = dict(data)
    if form is not None:
        data.setdefault("source", form.source)
        if not data.get("source_detail"):
            data["source_detail"] = form.source_detail or form.name
    values = clean_lead_data(data, require_mobile=form is not None)
    manual_priority = bool(values.get("priority"))
    if not manual_priority:
        values["priority"] = rules.priority_for(
            source=values["source"],
            urgency=values.get("urgency") or Urgency.MEDIUM,
            value=values.get("estimated_value"),
        )
    if not values.get("urgency"):
        values["urgency"] = Urgency.MEDIUM
    now = _now()
    lead = Lead(
        **values,
        priority_manual=manual_priority,
        web_form=form,
        extra=extra or {},
        created_by=actor,
        created_at=now,
        first_contact_due_at=rules.first_contact_due(values["priority"], now),
    )
    stamp(lead, actor=actor, reason=_("captured"))
    lead.save()
    channel = "web_form" if form is not None else ("user" if actor is not None else "import")
    _event(lead, EventKind.CAPTURED, actor=actor, data={"channel": channel})
    if actor is not None and actor.role == Role.SALES and form is None:
        _assign(lead, assignee=actor, actor=actor, how="self")
    elif config.get(conf.ASSIGN_ON_CAPTURE.key):
        book = rules.load_rulebook(lock=True)
        picked = book.pick(lead)
        if picked is not None:
            rule, candidate = picked
            _assign(
                lead, assignee=User.objects.get(pk=candidate.user_id), actor=actor, rule=rule.name
            )
            book.save_cursors()
    return lead


def _assign(
    lead: Lead, *, assignee: User, actor: Any, rule: str = "", note: str = "", how: str = "rule"
) -> None:
    now = _now()
    previous = lead.assignee_id
    lead.assignee = assignee
    lead.department_id = assignee.department_id
    lead.status = LeadStatus.ASSIGNED
    lead.assigned_at = now
    lead.confirm_due_at = now + timedelta(minutes=int(config.get(conf.CONFIRM_SLA_MINUTES.key)))
    lead.confirmed_at = None
    lead.sla_breached_at = None
    bump_version(lead)
    stamp(
        lead,
        actor=actor,
        reason=_("assigned by rule %(rule)s") % {"rule": rule} if rule else _("assigned"),
    )
    lead.save()
    _event(
        lead,
        EventKind.ASSIGNED,
        actor=actor,
        note=note,
        data={
            "assignee": assignee.pk,
            "previous": previous,
            "rule": rule,
            "how": how,
            "assignee_name": str(assignee),
        },
    )
    _notify(
        recipients=[assignee],
        kind="lead_assigned",
        title=_("New lead: %(lead)s") % {"lead": lead},
        body=_("Confirm within %(minutes)s minutes that the lead is contactable.")
        % {"minutes": config.get(conf.CONFIRM_SLA_MINUTES.key)},
        url=_lead_url(lead.pk),
        actor=actor,
        dedupe_key=f"lead-assigned-{lead.pk}-{lead.version}",
    )


# --- Edit ------------------------------------------------------------------------------------
@transaction.atomic
def lead_update(*, actor: User, lead: Lead, changes: dict[str, Any], version: int | None) -> Lead:
    lead = _lock(lead)
    check_version(lead, version)
    if not lead.is_open:
        raise Conflict(_("Only open leads can be edited."), code="lead_closed")
    values = clean_lead_data(changes, partial=True)
    if "contact_name" in values and not values["contact_name"]:
        raise InvalidInput(errors={"contact_name": [_("This field is required.")]})
    if "source" in values and not values["source"]:
        raise InvalidInput(errors={"source": [_("This field is required.")]})
    changed = {name for name, value in values.items() if getattr(lead, name) != value}
    for name in changed:
        setattr(lead, name, values[name])
    if not (lead.mobile or lead.email):
        raise InvalidInput(errors={"mobile": [_("Give a mobile number or an e-mail address.")]})
    if "priority" in values:
        if values["priority"]:
            lead.priority_manual = True
        else:
            lead.priority_manual = False
            changed.add("priority")
    if not lead.priority_manual and changed & {"source", "urgency", "estimated_value", "priority"}:
        lead.priority = rules.priority_for(
            source=lead.source, urgency=lead.urgency, value=lead.estimated_value
        )
    if lead.first_contact_at is None:
        lead.first_contact_due_at = rules.first_contact_due(lead.priority, lead.created_at)
    if not changed:
        return lead
    bump_version(lead)
    stamp(lead, actor=actor, reason=_("edited"))
    lead.save()
    _event(lead, EventKind.UPDATED, actor=actor, data={"fields": sorted(changed)})
    return lead


# --- Assignment by hand ----------------------------------------------------------------------
def _may_manage(actor: User, lead: Lead) -> bool:
    if is_admin(actor):
        return True
    if actor.role != Role.MANAGER:
        return False
    return lead.department_id is None or lead.department_id in managed_department_ids(actor)


def _check_assignee(actor: User, assignee: User) -> None:
    if not assignee.is_active or assignee.role not in (Role.SALES, Role.MANAGER):
        raise InvalidInput(errors={"assignee": [_("Leads go to active sales reps or managers.")]})
    if not is_admin(actor) and assignee.department_id not in managed_department_ids(actor):
        raise InvalidInput(errors={"assignee": [_("This rep is not in your departments.")]})


@transaction.atomic
def lead_assign(*, actor: User, lead: Lead, assignee: User, note: str = "") -> Lead:
    lead = _lock(lead)
    if not _may_manage(actor, lead):
        raise Forbidden(_("Only admins and the department's managers assign leads."))
    if not lead.is_open:
        raise Conflict(_("This lead is no longer open."), code="lead_closed")
    _check_assignee(actor, assignee)
    _assign(lead, assignee=assignee, actor=actor, note=note, how="manual")
    return lead


# --- Confirmation and invalidation -----------------------------------------------------------
def _check_assignee_acts(actor: User, lead: Lead) -> None:
    if lead.assignee_id != actor.pk and not is_admin(actor):
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


class ReviewDecision:
    CLOSE = "close"
    REASSIGN = "reassign"


@transaction.atomic
def lead_review(
    *, actor: User, lead: Lead, decision: str, note: str = "", assignee: User | None = None
) -> Lead:
    """An admin closes an invalid lead or sends it back into assignment (another rep)."""
    lead = _lock(lead)
    if not is_admin(actor):
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


def assignment_dry_run(*, leads: Sequence[Lead]) -> list[Proposal | None]:
    """Which rep each lead would get, by the rules as they stand; nothing is saved."""
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


# --- Rules -----------------------------------------------------------------------------------
def _check_admin(actor: User) -> None:
    if not is_admin(actor):
        raise Forbidden(_("Only admins edit assignment rules."))


def _clean_rule(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = str(data["name"] or "").strip()
        if not values["name"]:
            errors["name"] = [_("This field is required.")]
        elif len(values["name"]) > 100:
            errors["name"] = [_("At most %(limit)d characters.") % {"limit": 100}]
    if "is_active" in data:
        values["is_active"] = bool(data["is_active"])
    if "region_codes" in data:
        codes = sorted({str(c) for c in data["region_codes"] or ()})
        known = set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
        if set(codes) - known:
            errors["region_codes"] = [
                _("Unknown region codes: %(codes)s")
                % {"codes": ", ".join(sorted(set(codes) - known))}
            ]
        values["region_codes"] = codes
    if "industry_codes" in data:
        codes = sorted({str(c) for c in data["industry_codes"] or ()})
        known = set(Industry.objects.filter(code__in=codes).values_list("code", flat=True))
        if set(codes) - known:
            errors["industry_codes"] = [
                _("Unknown industry codes: %(codes)s")
                % {"codes": ", ".join(sorted(set(codes) - known))}
            ]
        values["industry_codes"] = codes
    for name, choices in (("sources", Source), ("priorities", Priority)):
        if name in data:
            picked = sorted({str(c) for c in data[name] or ()})
            if set(picked) - set(choices.values):
                errors[name] = [_("Not a valid choice.")]
            values[name] = picked
    if "department" in data:
        department = data["department"]
        if department not in (None, "") and not isinstance(department, Department):
            department = Department.objects.filter(pk=department).first()
            if department is None:
                errors["department"] = [_("Unknown department.")]
        values["department"] = department or None
    if "reps" in data:
        ids = sorted({int(getattr(r, "pk", r)) for r in data["reps"] or ()})
        reps = list(
            User.objects.filter(pk__in=ids, is_active=True, role__in=[Role.SALES, Role.MANAGER])
        )
        if len(reps) != len(ids):
            errors["reps"] = [_("Choose active sales reps or managers.")]
        values["reps"] = reps
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    return values


@transaction.atomic
def rule_create(*, actor: User, data: dict[str, Any]) -> AssignmentRule:
    _check_admin(actor)
    values = _clean_rule({"name": data.get("name", ""), **data})
    reps = values.pop("reps", [])
    if not values.get("department") and not reps:
        raise InvalidInput(errors={"reps": [_("Choose a department or reps.")]})
    last = AssignmentRule.objects.order_by("-position").values_list("position", flat=True).first()
    rule = AssignmentRule(**values, position=(last or 0) + 1)
    stamp(rule, actor=actor, reason=_("rule created"))
    rule.save()
    rule.reps.set(reps)
    return rule


@transaction.atomic
def rule_update(
    *, actor: User, rule: AssignmentRule, data: dict[str, Any], version: int | None
) -> AssignmentRule:
    _check_admin(actor)
    rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    check_version(rule, version)
    values = _clean_rule(data)
    reps = values.pop("reps", None)
    for name, value in values.items():
        setattr(rule, name, value)
    has_reps = bool(reps) if reps is not None else rule.reps.exists()
    if not rule.department_id and not has_reps:
        raise InvalidInput(errors={"reps": [_("Choose a department or reps.")]})
    bump_version(rule)
    stamp(rule, actor=actor, reason=_("rule changed"))
    rule.save()
    if reps is not None:
        rule.reps.set(reps)
    return rule


@transaction.atomic
def rule_delete(*, actor: User, rule: AssignmentRule) -> None:
    _check_admin(actor)
    stamp(rule, actor=actor, reason=_("rule deleted"))
    rule.delete()


@transaction.atomic
def rules_reorder(*, actor: User, rule_ids: Sequence[int]) -> None:
    """Save a new order: the rules listed first are tried first."""
    _check_admin(actor)
    existing = {rule.pk: rule for rule in AssignmentRule.objects.select_for_update()}
    if set(rule_ids) != set(existing) or len(rule_ids) != len(existing):
        raise InvalidInput(errors={"rule_ids": [_("List every rule exactly once.")]})
    for position, rule_id in enumerate(rule_ids, start=1):
        rule = existing[rule_id]
        if rule.position != position:
            rule.position = position
            stamp(rule, actor=actor, reason=_("rules reordered"))
            rule.save(update_fields=["position", "updated_at"])


# --- Web forms -------------------------------------------------------------------------------
def _check_form_admin(actor: User) -> None:
    if not (is_admin(actor) or actor.role == Role.MARKETING):
        raise Forbidden(_("Only admins and marketing manage web forms."))


@transaction.atomic
def web_form_create(*, actor: User, data: dict[str, Any]) -> WebForm:
    _check_form_admin(actor)
    form = WebForm(
        name=str(data.get("name", "")).strip(),
        source=str(data.get("source", "") or Source.WEBSITE),
        source_detail=str(data.get("source_detail", "")).strip(),
        campaign=str(data.get("campaign", "")).strip(),
        redirect_url=str(data.get("redirect_url", "")).strip(),
        created_by=actor,
    )
    from kehu.core.services import validate

    validate(form, exclude=["key", "secret"])
    stamp(form, actor=actor, reason=_("web form created"))
    form.save()
    return form


@transaction.atomic
def web_form_update(*, actor: User, form: WebForm, data: dict[str, Any]) -> WebForm:
    _check_form_admin(actor)
    for name in ("name", "source", "source_detail", "campaign", "redirect_url", "is_active"):
        if name in data:
            setattr(form, name, data[name])
    from kehu.core.services import validate

    validate(form)
    stamp(form, actor=actor, reason=_("web form changed"))
    form.save()
    return form


@transaction.atomic
def web_form_rotate_secret(*, actor: User, form: WebForm) -> WebForm:
    _check_form_admin(actor)
    form.secret = ""
    stamp(form, actor=actor, reason=_("secret replaced"))
    form.save()
    return form


HONEYPOT_FIELD = "website"
WEB_FIELDS = (
    "company_name",
    "contact_name",
    "mobile",
    "email",
    "region",
    "industry",
    "need",
    "urgency",
    "estimated_value",
)


def _rate_limited(form_key: str, ip: str) -> bool:
    """Count this post; True when the address exceeded the form's limit in the window."""
    key = f"kehu:leads:webform:{form_key}:{ip}"
    window = int(config.get(conf.WEBFORM_RATE_WINDOW.key))
    limit = int(config.get(conf.WEBFORM_RATE_LIMIT.key))
    if cache.add(key, 1, timeout=window):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=window)
            count = 1
    return count > limit


def web_form_submit(*, form_key: str, secret: str, data: dict[str, Any], ip: str) -> Lead | None:
    """A public web-to-lead post: rate-limited per form and address, verified by the secret.

    Returns None for a post that filled the honeypot (a bot): it is answered like a success
    but nothing is stored. Unknown fields are kept on the lead (nothing typed is lost).
    """
    if _rate_limited(form_key, ip):
        raise RateLimited()
    form = WebForm.objects.filter(key=form_key, is_active=True).first()
    if form is None or not hmac.compare_digest(form.secret.encode(), str(secret or "").encode()):
        raise Forbidden(_("This form is not accepting submissions."), code="bad_form_secret")
    if str(data.get(HONEYPOT_FIELD) or "").strip():
        return None
    fields = {name: data[name] for name in WEB_FIELDS if name in data}
    ignored = {"secret", HONEYPOT_FIELD, "csrfmiddlewaretoken"}
    extra = {
        name: str(value)[:1000]
        for name, value in data.items()
        if name not in WEB_FIELDS and name not in ignored
    }
    extra["submitted_from"] = ip
    return lead_capture(actor=None, data=fields, form=form, extra=extra)


# --- Conversion ------------------------------------------------------------------------------
def _unmapped_notes(lead: Lead) -> str:
    """What the customer record has no field for, kept in its notes (nothing typed is lost)."""
    lines = [
        _("Converted from lead #%(id)s, captured %(when)s.")
        % {
            "id": lead.pk,
            "when": timezone.localtime(lead.created_at).strftime("%Y-%m-%d %H:%M"),
        }
    ]
    lines.append(_("Urgency: %(urgency)s") % {"urgency": Urgency(lead.urgency).label})
    if lead.estimated_value is not None:
        lines.append(_("Estimated value: %(value)s yuan") % {"value": lead.estimated_value})
    if lead.web_form_id and lead.web_form is not None:
        lines.append(_("Web form: %(form)s") % {"form": lead.web_form.name})
    for name, value in sorted((lead.extra or {}).items()):
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _contact_data(lead: Lead) -> dict[str, Any]:
    data: dict[str, Any] = {"name": lead.contact_name, "is_primary": True}
    if lead.mobile:
        data["mobile"] = lead.mobile
    if lead.email:
        data["email"] = lead.email
    if lead.need:
        data["notes"] = (_("Lead need: %(need)s") % {"need": lead.need})[:1000]
    return data


@transaction.atomic
def lead_convert(
    *,
    actor: User,
    lead: Lead,
    customer_id: int | None = None,
    force: bool = False,
    create_opportunity: bool = False,
    opportunity_name: str = "",
) -> Lead:
    """Turn a qualified lead into a customer + contact (and optionally an opportunity).

    The customer service's duplicate check runs first: when it finds matches the call raises
    ``DuplicateCustomer`` (409, with the matches) and nothing is saved; the caller then either
    links the lead to one of them (``customer_id``) or insists (``force``).
    """
    from kehu.customers import services as customers
    from kehu.customers.models import Customer, CustomerKind

    lead = _lock(lead)
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict(_("This lead was already converted."), code="already_converted")
    if lead.assignee_id != actor.pk and not _may_manage(actor, lead):
        raise Forbidden(_("Only the lead's assignee or their manager can convert it."))
    if lead.status != LeadStatus.CONFIRMED:
        raise Conflict(
            _("Only leads confirmed as contactable can be converted."), code="bad_status"
        )
    owner = lead.assignee or actor
    contact = _contact_data(lead)
    if customer_id is not None:
        customer = Customer.objects.editable_by(actor).filter(pk=customer_id).first()
        if customer is None:
            raise InvalidInput(errors={"customer_id": [_("Choose a customer you can edit.")]})
        known = customer.contacts.filter(
            Q(mobile=lead.mobile) if lead.mobile else Q(email__iexact=lead.email)
        ).exists()
        if not known:
            customers.contact_create(
                actor=actor, customer=customer, data={**contact, "is_primary": False}, force=True
            )
    else:
        data: dict[str, Any] = {
            "name": lead.company_name or lead.contact_name,
            "kind": CustomerKind.COMPANY if lead.company_name else CustomerKind.INDIVIDUAL,
            "industry": lead.industry,
            "region": lead.region,
            "source": lead.source,
            "source_detail": lead.source_detail,
            "initial_need": lead.need,
            "priority": lead.priority,
            "notes": _unmapped_notes(lead),
            "owner": owner,
        }
        customer = customers.customer_create(
            actor=actor, data=data, contacts=[contact], force=force
        )
    opportunity_id: int | None = None
    if create_opportunity:
        opportunity_id = _create_opportunity(actor, customer, lead, opportunity_name)
    now = _now()
    lead.customer = customer
    lead.opportunity_id = opportunity_id
    lead.status = LeadStatus.CONVERTED
    lead.converted_at = now
    lead.converted_by = actor
    if lead.first_contact_at is None:
        lead.first_contact_at = now
    bump_version(lead)
    stamp(lead, actor=actor, reason=_("converted"))
    lead.save()
    _event(
        lead,
        EventKind.CONVERTED,
        actor=actor,
        data={
            "customer": customer.pk,
            "opportunity": opportunity_id,
            "linked": customer_id is not None,
        },
    )
    return lead


def _create_opportunity(actor: User, customer: Any, lead: Lead, name: str) -> int:
    """An opportunity in the first stage (初步接触) carrying the lead's need and value."""
    from kehu.opportunities.services import opportunity_create

    data: dict[str, Any] = {
        "name": (name.strip() or str(lead))[:200],
        "stage": "initial_contact",
        "needs": lead.need,
        "source": lead.source,
    }
    if lead.estimated_value is not None:
        data["amount"] = lead.estimated_value
    if lead.assignee is not None and lead.assignee.pk != actor.pk:
        data["owner"] = lead.assignee
    opportunity = opportunity_create(actor=actor, customer=customer, data=data)
    return int(opportunity.pk)
