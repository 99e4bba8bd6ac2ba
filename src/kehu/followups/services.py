"""Writes of the follow-up app: follow-up records, tasks, cadence re-planning.

Every function takes keyword-only arguments and an explicit actor (None for jobs), validates
everything before the first write and runs in one transaction, so bad input changes nothing.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, Role, User
from kehu.core import config, events, uploads
from kehu.core.access import is_admin, lock_editable, managed_department_ids
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, CustomerStatus
from kehu.followups import settings as rules
from kehu.followups.access import conversation_withheld
from kehu.followups.models import (
    Attachment,
    CadencePlan,
    FollowUp,
    Method,
    ReminderLog,
    RenewalIntent,
    Sentiment,
    Task,
    TaskKind,
    TaskPriority,
    TaskStatus,
)
from kehu.notifications.services import notify

VERIFY_CHANNEL_BY_METHOD = {
    Method.PHONE: "phone",
    Method.EMAIL: "email",
    Method.VISIT: "visit",
    Method.MEETING: "phone",
    Method.WECHAT: "phone",
    Method.OTHER: "phone",
}


# --- helpers ------------------------------------------------------------------------------------


def _errors(errors: dict[str, list[str]]) -> None:
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)


def _as_datetime(value: Any, field: str, errors: dict[str, list[str]]) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            errors[field] = [_("Enter a valid date and time.")]
            return None
        value = parsed
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(9))
    if not isinstance(value, datetime):
        errors[field] = [_("Enter a valid date and time.")]
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _as_date(value: Any, field: str, errors: dict[str, list[str]]) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    parsed = parse_date(str(value))
    if parsed is None:
        errors[field] = [_("Enter a valid date.")]
    return parsed


def _as_user(value: Any, field: str, errors: dict[str, list[str]]) -> User | None:
    if value in (None, ""):
        return None
    user = value if isinstance(value, User) else User.objects.filter(pk=value).first()
    if user is None or not user.is_active:
        errors[field] = [_("Choose an active user.")]
        return None
    return user


def local_at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _related_parts(related: models.Model | None) -> tuple[ContentType | None, int | None]:
    if related is None:
        return None, None
    return ContentType.objects.get_for_model(related), int(related.pk)


def customer_url(customer: Customer) -> str:
    try:
        return reverse("customers:detail", args=[customer.pk])
    except Exception:
        return ""


# --- role rules ---------------------------------------------------------------------------------


def followup_may_create(user: User) -> bool:
    """Whether the user's role logs follow-ups on the customers it sees: not marketing, which
    reads customers for segments and campaigns but not their conversation."""
    return not conversation_withheld(user)


def task_may_create(user: User, customer: Customer | None = None) -> bool:
    """Whether the user may create a task, on ``customer`` if given: anyone a task of their
    own (a lead to call back), only the roles that log follow-ups one on a customer."""
    return customer is None or followup_may_create(user)


# --- tasks --------------------------------------------------------------------------------------


@transaction.atomic
def task_create(
    *,
    actor: User | None,
    assignee: User,
    title: str,
    due_at: datetime,
    customer: Customer | None = None,
    related: models.Model | None = None,
    priority: str = "normal",
    kind: str = "manual",
    description: str = "",
    dedupe_key: str = "",
    followup: FollowUp | None = None,
) -> Task:
    """Create a task; with a ``dedupe_key`` an open task with that key is returned instead.

    ``Forbidden`` for an actor whose role may not create tasks on the customer (jobs, with no
    actor, may)."""
    if actor is not None and not task_may_create(actor, customer):
        raise Forbidden(_("Your role may not create tasks on customers."))
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("Enter a title.")]
    if assignee is None or not assignee.is_active:
        errors["assignee"] = [_("Choose an active user.")]
    due = _as_datetime(due_at, "due_at", errors)
    if due is None and "due_at" not in errors:
        errors["due_at"] = [_("Enter the due time.")]
    if priority not in TaskPriority.values:
        errors["priority"] = [_("Choose a valid priority.")]
    if kind not in TaskKind.values:
        errors["kind"] = [_("Choose a valid kind.")]
    _errors(errors)
    assert due is not None
    if dedupe_key:
        existing = Task.objects.filter(dedupe_key=dedupe_key, status=TaskStatus.OPEN).first()
        if existing is not None:
            return existing
    related_type, related_id = _related_parts(related)
    task = Task(
        title=title[:200],
        description=description,
        kind=kind,
        assignee=assignee,
        created_by=actor,
        customer=customer,
        related_type=related_type,
        related_id=related_id,
        followup=followup,
        due_at=due,
        priority=priority,
        dedupe_key=dedupe_key,
    )
    stamp(task, actor=actor)
    try:
        with transaction.atomic():
            task.save()
    except IntegrityError:
        existing = Task.objects.filter(dedupe_key=dedupe_key, status=TaskStatus.OPEN).first()
        if existing is None:
            raise
        return existing
    if actor is not None and actor.pk != assignee.pk:
        notify(
            recipients=[assignee],
            kind="task_assigned",
            title=_("New task: %(title)s") % {"title": task.title},
            body=_("Due %(due)s") % {"due": f"{timezone.localtime(due):%Y-%m-%d %H:%M}"},
            url=reverse("followups:task_detail", args=[task.pk]),
            actor=actor,
            dedupe_key=f"task_assigned:{task.pk}",
        )
    return task


def _locked_task(*, actor: User, task_id: int) -> Task:
    """The task locked for a change: 403 if the actor only sees it, 404 if not even that."""
    return lock_editable(Task.objects.all(), actor, pk=task_id)


@transaction.atomic
def task_update(
    *, actor: User, task_id: int, changes: dict[str, Any], version: int | None = None
) -> Task:
    task = _locked_task(actor=actor, task_id=task_id)
    check_version(task, version)
    errors: dict[str, list[str]] = {}
    allowed = {"title", "description", "due_at", "priority", "assignee"}
    for name in changes:
        if name not in allowed:
            errors[name] = [_("This field cannot be changed here.")]
    if "title" in changes and not (changes["title"] or "").strip():
        errors["title"] = [_("Enter a title.")]
    due = _as_datetime(changes.get("due_at"), "due_at", errors) if "due_at" in changes else None
    if "priority" in changes and changes["priority"] not in TaskPriority.values:
        errors["priority"] = [_("Choose a valid priority.")]
    assignee = (
        _as_user(changes.get("assignee"), "assignee", errors) if "assignee" in changes else None
    )
    if "assignee" in changes and assignee is None and "assignee" not in errors:
        errors["assignee"] = [_("Choose an active user.")]
    _errors(errors)
    if "title" in changes:
        task.title = changes["title"].strip()[:200]
    if "description" in changes:
        task.description = changes["description"] or ""
    if due is not None:
        task.due_at = due
        task.escalated_at = None
    if "priority" in changes:
        task.priority = changes["priority"]
    if assignee is not None:
        task.assignee = assignee
    bump_version(task)
    stamp(task, actor=actor)
    task.save()
    return task


@transaction.atomic
def task_reassign(*, actor: User, task: Task, assignee: User, reason: str) -> Task:
    """Give a task to another active user; the history keeps ``reason``."""
    locked = _locked_task(actor=actor, task_id=task.pk)
    errors: dict[str, list[str]] = {}
    new_assignee = _as_user(assignee, "assignee", errors)
    _errors(errors)
    if new_assignee is None or locked.assignee_id == new_assignee.pk:
        return locked
    locked.assignee = new_assignee
    bump_version(locked)
    stamp(locked, actor=actor, reason=reason[:100])
    locked.save()
    return locked


def _set_status(task: Task, *, actor: User | None, status: str, reason: str = "") -> Task:
    task.status = status
    task.completed_at = timezone.now() if status == TaskStatus.DONE else None
    bump_version(task)
    stamp(task, actor=actor, reason=reason)
    task.save()
    return task


@transaction.atomic
def task_complete(*, actor: User, task_id: int, version: int | None = None) -> Task:
    task = _locked_task(actor=actor, task_id=task_id)
    check_version(task, version)
    if task.status != TaskStatus.OPEN:
        raise InvalidInput(_("Only open tasks can be completed."), code="not_open")
    return _set_status(task, actor=actor, status=TaskStatus.DONE)


@transaction.atomic
def task_cancel(*, actor: User, task_id: int, reason: str = "", version: int | None = None) -> Task:
    task = _locked_task(actor=actor, task_id=task_id)
    check_version(task, version)
    if task.status != TaskStatus.OPEN:
        raise InvalidInput(_("Only open tasks can be cancelled."), code="not_open")
    return _set_status(task, actor=actor, status=TaskStatus.CANCELLED, reason=reason)


@transaction.atomic
def task_snooze(*, actor: User, task_id: int, until: Any, version: int | None = None) -> Task:
    task = _locked_task(actor=actor, task_id=task_id)
    check_version(task, version)
    errors: dict[str, list[str]] = {}
    moment = _as_datetime(until, "until", errors)
    if moment is None and not errors:
        errors["until"] = [_("Enter the time to snooze until.")]
    elif moment is not None and moment <= timezone.now():
        errors["until"] = [_("Snooze until a time in the future.")]
    if task.status != TaskStatus.OPEN:
        errors["__all__"] = [_("Only open tasks can be snoozed.")]
    _errors(errors)
    task.snoozed_until = moment
    bump_version(task)
    stamp(task, actor=actor)
    task.save()
    return task


def _complete_open(customer: Customer, kind: str, *, actor: User | None) -> None:
    for task in Task.objects.select_for_update().filter(
        customer=customer, kind=kind, status=TaskStatus.OPEN
    ):
        _set_status(task, actor=actor, status=TaskStatus.DONE, reason=_("Follow-up logged"))


# --- cadence ------------------------------------------------------------------------------------


def active_plans() -> list[CadencePlan]:
    """The active cadence plans, each department plan with the departments it covers (its
    department and the ones below): two queries, whatever the number of customers planned."""
    plans = list(CadencePlan.objects.filter(is_active=True).select_related("department"))
    paths = {plan.department.path for plan in plans if plan.department is not None}
    if paths:
        covered: dict[str, set[int]] = {path: set() for path in paths}
        under = Q()
        for path in paths:
            under |= Q(path__startswith=path)
        for pk, path in Department.objects.filter(under).values_list("pk", "path"):
            for prefix in paths:
                if path.startswith(prefix):
                    covered[prefix].add(pk)
        for plan in plans:
            if plan.department is not None:
                plan.covered_ids = frozenset(covered[plan.department.path])  # type: ignore[attr-defined]
                plan.depth = plan.department.path.count("/")  # type: ignore[attr-defined]
    return plans


def _plan_reach(plan: CadencePlan) -> tuple[frozenset[int] | None, int]:
    """(departments a plan covers or None for the company's, how deep its department lies)."""
    if plan.department_id is None:
        return None, 0
    covered = getattr(plan, "covered_ids", None)
    if covered is None:  # a plan not loaded by active_plans()
        path = Department.objects.filter(pk=plan.department_id).values_list("path", flat=True)
        prefix = path.first() or "-"
        ids = Department.objects.filter(path__startswith=prefix).values_list("pk", flat=True)
        plan.covered_ids = covered = frozenset(ids)  # type: ignore[attr-defined]
        plan.depth = prefix.count("/")  # type: ignore[attr-defined]
    return covered, int(getattr(plan, "depth", 0))


def cadence_interval(
    customer: Customer, plans: list[CadencePlan] | None = None
) -> CadencePlan | None:
    """The plan of the customer's status and grade: among the matching active plans, those of
    the nearest department above the customer (a team's plans replace the company's), and of
    them the most frequent."""
    if customer.status == CustomerStatus.CHURNED:
        return None
    if plans is None:
        plans = active_plans()
    grade = customer.effective_grade
    best: CadencePlan | None = None
    best_depth = -1
    for plan in plans:
        if not plan.is_active or (plan.status and plan.status != customer.status):
            continue
        if plan.grade and plan.grade != grade:
            continue
        covered, depth = _plan_reach(plan)
        if covered is not None and customer.department_id not in covered:
            continue
        if depth > best_depth or (
            depth == best_depth and best is not None and plan.interval_days < best.interval_days
        ):
            best, best_depth = plan, depth
    return best


class CadenceTerms:
    """Due time and title of a customer's planned follow-up under a plan, for many customers:
    the hour, the time zone and the title's translation are looked up once (per customer they
    were 30 % of the CPU of planning 100,000 customers' tasks)."""

    def __init__(self, hour: int | None = None) -> None:
        self.hour = int(config.get(rules.NEXT_STEP_HOUR.key)) if hour is None else hour
        self.zone = timezone.get_current_timezone()
        self.title = _("Follow up %(customer)s (%(plan)s)")

    def __call__(
        self, customer: Customer, plan: CadencePlan, *, now: datetime
    ) -> tuple[datetime, str]:
        base = customer.last_contact_at or customer.created_at or now
        due_day = base.astimezone(self.zone).date() + timedelta(days=plan.interval_days)
        due = timezone.make_aware(datetime.combine(due_day, time(self.hour)), self.zone)
        return due, self.title % {"customer": customer.name, "plan": plan.name}


def cadence_task_terms(
    customer: Customer, plan: CadencePlan, *, now: datetime, hour: int | None = None
) -> tuple[datetime, str]:
    """Due time and title of the customer's planned follow-up under ``plan``."""
    return CadenceTerms(hour)(customer, plan, now=now)


def cadence_replan(
    *, customer: Customer, plans: list[CadencePlan] | None = None, now: datetime | None = None
) -> Task | None:
    """Keep exactly one open planned follow-up task for the customer, due per the plans."""
    now = now or timezone.now()
    key = f"cadence:{customer.pk}"
    plan = cadence_interval(customer, plans)
    open_task = Task.objects.filter(dedupe_key=key, status=TaskStatus.OPEN).first()
    owner = customer.owner
    if plan is None or owner is None or not owner.is_active:
        if open_task is not None:
            _set_status(
                open_task, actor=None, status=TaskStatus.CANCELLED, reason=_("No cadence plan")
            )
        return None
    due, title = cadence_task_terms(customer, plan, now=now)
    if open_task is None:
        return task_create(
            actor=None,
            assignee=owner,
            title=title,
            due_at=due,
            customer=customer,
            kind=TaskKind.CADENCE,
            description=plan.action,
            dedupe_key=key,
        )
    if (open_task.due_at, open_task.assignee_id, open_task.title) != (
        due,
        owner.pk,
        title[:200],
    ):
        open_task.due_at = due
        open_task.assignee = owner
        open_task.title = title[:200]
        open_task.description = plan.action
        open_task.escalated_at = None
        bump_version(open_task)
        stamp(open_task, actor=None, reason=_("Re-planned"))
        open_task.save()
    return open_task


# --- follow-ups ---------------------------------------------------------------------------------


def _validate_attachments(files: list[Any], errors: dict[str, list[str]]) -> None:
    limit_mb = int(config.get(rules.ATTACHMENT_MAX_MB.key))
    allowed = {ext.lower().lstrip(".") for ext in config.get(rules.ATTACHMENT_EXTENSIONS.key)}
    problems: list[str] = []
    for upload in files:
        if not isinstance(upload, UploadedFile):
            problems.append(_("Not a file upload."))
            continue
        name = os.path.basename(upload.name or "")
        extension = uploads.extension_of(name)
        if extension not in allowed:
            problems.append(
                _("%(name)s: files of type “%(ext)s” are not allowed.")
                % {"name": name, "ext": extension or "?"}
            )
        elif problem := uploads.content_problem(upload, extension):
            problems.append(f"{name}: {problem}")
        if (upload.size or 0) > limit_mb * 1024 * 1024:
            problems.append(
                _("%(name)s is larger than %(limit)d MB.") % {"name": name, "limit": limit_mb}
            )
    if problems:
        errors["attachments"] = problems


def _store_attachments(followup: FollowUp, files: list[UploadedFile], actor: User) -> None:
    for upload in files:
        name = os.path.basename(upload.name or "file")[:200]
        Attachment.objects.create(
            followup=followup,
            file=upload,
            name=name,
            size=upload.size or 0,
            # the type its checked extension stands for, not the one the client claimed
            content_type=uploads.content_type_of(uploads.extension_of(name)),
            uploaded_by=actor,
        )


def _may_log_for(actor: User, author: User) -> bool:
    """The owner rule of the customer and opportunity services: administrators, and managers
    for the members of their departments."""
    if is_admin(actor):
        return True
    return actor.role == Role.MANAGER and author.department_id in managed_department_ids(actor)


@transaction.atomic
def followup_create(*, actor: User, customer: Customer, data: dict[str, Any]) -> FollowUp:
    """Log a follow-up: record, attachments, next-step task, verification, cadence re-plan.

    ``data`` keys: occurred_at, method, content, sentiment, sentiment_reason, contact (id or
    Contact), related (a model instance), next_step_on, next_step_action, next_step_owner (id or
    User), verified (bool), attachments (uploaded files), author (id or User; default the
    actor — logging for someone else is for administrators and the managers of their
    department, e.g. when migrating an old CRM's records).
    """
    if not Customer.objects.visible_to(actor).filter(pk=customer.pk).exists():
        raise NotFound("customer")
    if not followup_may_create(actor):
        raise Forbidden(_("Your role may not log follow-ups."))
    known = {
        "occurred_at",
        "method",
        "content",
        "sentiment",
        "sentiment_reason",
        "renewal_intent",
        "contact",
        "related",
        "next_step_on",
        "next_step_action",
        "next_step_owner",
        "verified",
        "attachments",
        "author",
    }
    errors: dict[str, list[str]] = {}
    for name in data:
        if name not in known:
            errors[name] = [_("Unknown field.")]
    now = timezone.now()
    occurred_at = _as_datetime(data.get("occurred_at"), "occurred_at", errors) or (
        None if "occurred_at" in errors else now
    )
    tolerance = timedelta(minutes=int(config.get(rules.FUTURE_TOLERANCE_MINUTES.key)))
    if occurred_at is not None and occurred_at > now + tolerance:
        errors["occurred_at"] = [_("A follow-up cannot be in the future.")]
    method = data.get("method") or ""
    if method not in Method.values:
        errors["method"] = [_("Choose how the customer was contacted.")]
    content = (data.get("content") or "").strip()
    if not content:
        errors["content"] = [_("Describe what was discussed.")]
    sentiment = data.get("sentiment") or Sentiment.NEUTRAL
    if sentiment not in Sentiment.values:
        errors["sentiment"] = [_("Choose positive, neutral or negative.")]
    reason = (data.get("sentiment_reason") or "").strip()
    if sentiment in {Sentiment.POSITIVE, Sentiment.NEGATIVE} and not reason:
        errors["sentiment_reason"] = [_("Give the reason for the customer's feedback.")]
    renewal_intent = data.get("renewal_intent") or ""
    if renewal_intent not in RenewalIntent.values and renewal_intent != "":
        errors["renewal_intent"] = [_("Choose likely, undecided, unlikely or leave it empty.")]
    contact = data.get("contact")
    if contact not in (None, ""):
        contact_id = contact.pk if isinstance(contact, Contact) else contact
        contact = Contact.objects.filter(pk=contact_id, customer=customer).first()
        if contact is None:
            errors["contact"] = [_("Choose a contact of this customer.")]
    else:
        contact = None
    next_on = _as_date(data.get("next_step_on"), "next_step_on", errors)
    next_action = (data.get("next_step_action") or "").strip()
    next_owner = _as_user(data.get("next_step_owner"), "next_step_owner", errors)
    author = _as_user(data.get("author"), "author", errors) or actor
    if author.pk != actor.pk and not _may_log_for(actor, author):
        errors["author"] = [
            _("Only administrators and their managers may log follow-ups for %(user)s.")
            % {"user": author}
        ]
    if next_on is not None and next_on < timezone.localdate(now):
        errors["next_step_on"] = [_("The next step cannot be in the past.")]
    if next_on is not None and not next_action:
        errors["next_step_action"] = [_("Describe the next step.")]
    if next_action and next_on is None and "next_step_on" not in errors:
        errors["next_step_on"] = [_("Give the date of the next step.")]
    if (
        data.get("verified")
        and not Customer.objects.editable_by(actor).filter(pk=customer.pk).exists()
    ):
        errors["verified"] = [_("Only users who may edit the customer can mark it verified.")]
    files = list(data.get("attachments") or [])
    _validate_attachments(files, errors)
    _errors(errors)
    assert occurred_at is not None

    related_type, related_id = _related_parts(data.get("related"))
    followup = FollowUp(
        customer=customer,
        contact=contact,
        related_type=related_type,
        related_id=related_id,
        author=author,
        occurred_at=occurred_at,
        method=method,
        content=content,
        sentiment=sentiment,
        sentiment_reason=reason,
        renewal_intent=renewal_intent,
        next_step_on=next_on,
        next_step_action=next_action[:300],
        next_step_owner=(next_owner or author) if next_on else None,
        verified=bool(data.get("verified")),
    )
    stamp(followup, actor=actor)
    followup.save()
    _store_attachments(followup, files, actor)

    if next_on is not None:
        owner = next_owner or author
        task_create(
            actor=actor,
            assignee=owner,
            title=next_action,
            due_at=local_at(next_on, int(config.get(rules.NEXT_STEP_HOUR.key))),
            customer=customer,
            related=data.get("related"),
            kind=TaskKind.NEXT_STEP,
            description=_("Next step of the follow-up of %(when)s")
            % {"when": f"{timezone.localtime(occurred_at):%Y-%m-%d %H:%M}"},
            dedupe_key=f"next_step:{followup.pk}",
            followup=followup,
        )
    if followup.verified:
        customer_services.customer_mark_verified(
            actor=actor,
            customer=customer,
            via=VERIFY_CHANNEL_BY_METHOD.get(Method(method), "phone"),
            when=occurred_at,
        )
        _complete_open(customer, TaskKind.VERIFY, actor=actor)
    customer_services.customer_record_contact(customer=customer, when=occurred_at)
    _complete_open(customer, TaskKind.FIRST_CONTACT, actor=actor)
    customer.refresh_from_db()
    cadence_replan(customer=customer)
    events.emit("followup.recorded", followup.pk, actor=actor, data={"customer_id": customer.pk})
    return followup


def reminder_once(key: str) -> bool:
    """True the first time a periodic reminder with this key fires; False on every re-run."""
    try:
        with transaction.atomic():
            _, created = ReminderLog.objects.get_or_create(key=key[:200])
    except IntegrityError:
        return False
    return created
