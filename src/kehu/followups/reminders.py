"""The periodic reminder rules (SEED_NOTES §1-3). Every function is idempotent: it may run any
number of times (the Huey schedule, a manual run, two workers) and creates each task or message
once, guarded by dedupe keys backed by unique constraints.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, Role, User
from kehu.core import bulk, config
from kehu.customers.models import Customer, CustomerStatus
from kehu.followups import emails
from kehu.followups import settings as rules
from kehu.followups.models import (
    CareDate,
    CareKind,
    FollowUp,
    Task,
    TaskKind,
    TaskPriority,
    TaskStatus,
)
from kehu.followups.services import (
    CadenceTerms,
    active_plans,
    cadence_interval,
    cadence_replan,
    customer_url,
    local_at,
    reminder_once,
    task_create,
)
from kehu.notifications.services import notify

TRADITIONAL_FESTIVALS = [  # (lunar month, lunar day, name)
    (1, 1, "春节"),
    (1, 15, "元宵节"),
    (5, 5, "端午节"),
    (8, 15, "中秋节"),
    (9, 9, "重阳节"),
]
BATCH = 500


def managers_of(user: User) -> list[User]:
    """Who an overdue task escalates to: heads and managers of the user's department and above."""
    if user.department_id is None:
        return []
    path = Department.objects.filter(pk=user.department_id).values_list("path", flat=True).first()
    if not path:
        return []
    ancestor_ids = [int(part) for part in path.strip("/").split("/") if part]
    return list(
        User.objects.filter(is_active=True)
        .filter(
            Q(headed_departments__in=ancestor_ids)
            | Q(role=Role.MANAGER, department_id__in=ancestor_ids)
        )
        .exclude(pk=user.pk)
        .distinct()
    )


def _active_customers() -> Any:
    return Customer.objects.filter(owner__isnull=False, owner__is_active=True).exclude(
        status=CustomerStatus.CHURNED
    )


def _task_url(task: Task) -> str:
    return reverse("followups:task_detail", args=[task.pk])


# --- first contact SLA ------------------------------------------------------------------------


def first_contact_sla(
    *, now: datetime | None = None, customers: Iterable[Customer] | None = None
) -> int:
    """S/A/B customers without a first contact get a task due at the SLA; missing it warns."""
    now = now or timezone.now()
    hours_by_priority: dict[str, int] = config.get(rules.FIRST_CONTACT_SLA_HOURS.key)
    rows = (
        customers
        if customers is not None
        else _active_customers()
        .filter(first_contact_at__isnull=True)
        .exclude(priority="")
        .select_related("owner")
    )
    created = 0
    for customer in rows:
        hours = hours_by_priority.get(customer.priority)
        if not hours or customer.first_contact_at is not None or customer.owner is None:
            continue
        deadline = customer.created_at + timedelta(hours=int(hours))
        if reminder_once(f"first_contact:{customer.pk}"):
            task_create(
                actor=None,
                assignee=customer.owner,
                title=_("First contact with %(customer)s") % {"customer": customer.name},
                due_at=deadline,
                customer=customer,
                kind=TaskKind.FIRST_CONTACT,
                priority=TaskPriority.HIGH if customer.priority == "S" else TaskPriority.NORMAL,
                dedupe_key=f"first_contact:{customer.pk}",
            )
            created += 1
        if deadline <= now:
            notify(
                recipients=[customer.owner, *managers_of(customer.owner)],
                kind="sla_missed",
                title=_("First-contact deadline missed: %(customer)s")
                % {"customer": customer.name},
                body=_("Priority %(priority)s customers must be contacted within %(hours)s hours.")
                % {"priority": customer.priority, "hours": hours},
                url=customer_url(customer),
                dedupe_key=f"sla_missed:{customer.pk}",
            )
    return created


# --- tasks: due soon, overdue escalation, record reminder --------------------------------------


def due_soon(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    ahead = now + timedelta(hours=int(config.get(rules.REMIND_AHEAD_HOURS.key)))
    sent = 0
    for task in (
        Task.objects.filter(status=TaskStatus.OPEN, due_at__gt=now, due_at__lte=ahead)
        .filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
        .select_related("assignee")[: BATCH * 10]
    ):
        sent += notify(
            recipients=[task.assignee],
            kind="task_due_soon",
            title=_("Due %(when)s: %(title)s")
            % {"when": f"{timezone.localtime(task.due_at):%m-%d %H:%M}", "title": task.title},
            url=_task_url(task),
            dedupe_key=f"due_soon:{task.pk}:{task.due_at.isoformat()}",
        )
    return sent


def escalate_overdue(*, now: datetime | None = None) -> int:
    """Tasks overdue longer than the configured delay are reported to the assignee's managers."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=int(config.get(rules.ESCALATE_AFTER_HOURS.key)))
    escalated = 0
    rows = (
        Task.objects.filter(status=TaskStatus.OPEN, escalated_at__isnull=True, due_at__lte=cutoff)
        .filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=cutoff))
        .select_related("assignee", "customer")[: BATCH * 10]
    )
    for task in rows:
        with transaction.atomic():
            managers = managers_of(task.assignee)
            notify(
                recipients=managers,
                kind="task_escalated",
                title=_("Overdue task of %(user)s: %(title)s")
                % {"user": task.assignee, "title": task.title},
                body=_("Due %(when)s")
                % {"when": f"{timezone.localtime(task.due_at):%Y-%m-%d %H:%M}"},
                url=_task_url(task),
                dedupe_key=f"escalate:{task.pk}:{task.due_at.isoformat()}",
            )
            Task.objects.filter(pk=task.pk, escalated_at__isnull=True).update(escalated_at=now)
            escalated += 1
    return escalated


def record_reminders(*, now: datetime | None = None) -> int:
    """A customer task was done (the contact happened) but no follow-up was written within 2 h."""
    now = now or timezone.now()
    hours = int(config.get(rules.RECORD_WITHIN_HOURS.key))
    deadline = now - timedelta(hours=hours)
    written = FollowUp.objects.filter(
        customer=OuterRef("customer"),
        created_at__gte=OuterRef("completed_at") - timedelta(hours=hours),
    )
    rows = (
        Task.objects.filter(
            status=TaskStatus.DONE,
            customer__isnull=False,
            completed_at__lte=deadline,
            completed_at__gte=now - timedelta(days=2),
        )
        .exclude(kind__in=[TaskKind.MONTHLY_REVIEW, TaskKind.CARE, TaskKind.STALE_CONTACT])
        .filter(~Exists(written))
        .select_related("assignee", "customer")
    )
    sent = 0
    for task in rows:
        assert task.customer is not None
        sent += notify(
            recipients=[task.assignee],
            kind="record_missing",
            title=_("Write the follow-up record for %(customer)s")
            % {"customer": task.customer.name},
            body=_("Follow-ups are recorded within %(hours)d hours of the contact.")
            % {"hours": hours},
            url=reverse("followups:customer_timeline", args=[task.customer.pk]),
            dedupe_key=f"record:{task.pk}",
        )
    return sent


# --- customer data: stale contact info, unverified, monthly review -----------------------------


def stale_contacts(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    cutoff = now - timedelta(days=int(config.get("customers.stale_contact_days")))
    created = 0
    for customer in (
        _active_customers()
        .filter(contact_info_updated_at__lt=cutoff)
        .select_related("owner")[: BATCH * 10]
    ):
        assert customer.owner is not None
        stamp = customer.contact_info_updated_at.isoformat()
        if not reminder_once(f"stale:{customer.pk}:{stamp}"):
            continue
        task_create(
            actor=None,
            assignee=customer.owner,
            title=_("Verify the contact information of %(customer)s") % {"customer": customer.name},
            description=_("Not updated since %(day)s.")
            % {"day": f"{timezone.localtime(customer.contact_info_updated_at):%Y-%m-%d}"},
            due_at=now + timedelta(days=1),
            customer=customer,
            kind=TaskKind.STALE_CONTACT,
            dedupe_key=f"stale:{customer.pk}",
        )
        created += 1
    return created


def unverified_customers(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    cutoff = now - timedelta(hours=int(config.get("customers.verify_within_hours")))
    created = 0
    for customer in (
        _active_customers()
        .filter(verified_at__isnull=True, first_contact_at__lte=cutoff)
        .select_related("owner")[: BATCH * 10]
    ):
        assert customer.owner is not None
        if not reminder_once(f"verify:{customer.pk}"):
            continue
        task_create(
            actor=None,
            assignee=customer.owner,
            title=_("Verify %(customer)s (信息已验证)") % {"customer": customer.name},
            description=_(
                "Confirm contact details and need by phone or email, "
                "then tick “Information verified” in a follow-up."
            ),
            due_at=now + timedelta(hours=4),
            customer=customer,
            kind=TaskKind.VERIFY,
            priority=TaskPriority.HIGH,
            dedupe_key=f"verify:{customer.pk}",
        )
        created += 1
    return created


def monthly_reviews(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    today = timezone.localdate(now)
    if today.day < int(config.get(rules.MONTHLY_REVIEW_DAY.key)):
        return 0
    owners = User.objects.filter(is_active=True, pk__in=_active_customers().values("owner_id"))
    created = 0
    for owner in owners:
        if not reminder_once(f"review:{owner.pk}:{today:%Y-%m}"):
            continue
        task_create(
            actor=None,
            assignee=owner,
            title=_("Monthly customer review %(month)s") % {"month": f"{today:%Y-%m}"},
            description=_(
                "Review your customers: status, changes of need or budget, key contact changes."
            ),
            due_at=local_at(today + timedelta(days=4), 18),
            kind=TaskKind.MONTHLY_REVIEW,
            dedupe_key=f"review:{owner.pk}:{today:%Y-%m}",
        )
        created += 1
    return created


# --- cadence ----------------------------------------------------------------------------------


def cadence_replan_all(
    *, now: datetime | None = None, department_ids: Iterable[int] | None = None
) -> int:
    """Re-plan every customer's next follow-up (catches status/grade changes and new plans);
    with ``department_ids``, the customers of those departments only (a team's plan changed)."""
    plans = active_plans()
    count = 0
    rows = Customer.objects.select_related("owner").order_by("pk")
    if department_ids is not None:
        rows = rows.filter(department_id__in=list(department_ids))
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            return count
        for customer in batch:
            with transaction.atomic():
                cadence_replan(customer=customer, plans=plans, now=now)
            count += 1
        last = batch[-1].pk


PLAN_BATCH = 5000
PLAN_FIELDS = ["pk", "name", "status", "grade", "grade_override", "owner_id", "created_at"]
PLAN_FIELDS += ["last_contact_at", "department_id"]


def _planned_customers(customers: list[Customer]) -> set[int]:
    """The customers among ``customers`` with an open planned follow-up (``cadence_replan``'s
    task: open, with the key ``cadence:<customer id>``).

    Looked up by the key alone, so that the only usable index is the key's: a NOT EXISTS, or
    a filter on the status too, let the planners scan every open task per batch whenever
    they guessed that cheaper (PostgreSQL without statistics on a fresh table, SQLite by its
    rules): quadratic, 6 s per batch of 5,000 by 150,000 customers and growing.
    """
    keys = [f"cadence:{customer.pk}" for customer in customers]
    planned: set[int] = set()
    for start in range(0, len(keys), 900):  # SQLite's classic limit of query parameters
        found = Task.objects.filter(dedupe_key__in=keys[start : start + 900])
        for customer_id, status in found.values_list("customer_id", "status"):
            if status == TaskStatus.OPEN:
                planned.add(customer_id)
    return planned


def cadence_plan_missing(*, now: datetime | None = None) -> int:
    """Plan the follow-up of every customer that has a plan but no open planned task, in bulk.

    What ``cadence_replan`` does for such a customer (same due time, title and dedupe key),
    for a whole freshly generated book at once (``kehu demo``): rows go in through
    ``kehu.core.bulk``, without history entries. Customers that already have an open planned
    follow-up are left to ``cadence_replan_all``.
    """
    now = now or timezone.now()
    plans = active_plans()
    if not plans:
        return 0
    terms = CadenceTerms()
    customers = (
        Customer.objects.filter(owner__isnull=False, owner__is_active=True)
        .exclude(status=CustomerStatus.CHURNED)
        .only(*PLAN_FIELDS)
        .order_by("pk")
    )
    columns = ["id", "created_at", "updated_at", "title", "description", "kind", "assignee_id"]
    columns += ["customer_id", "due_at", "dedupe_key"]
    writer = bulk.TableWriter(Task, columns)
    # Each customer is visited once, so only tasks from before this call can be found: with
    # none open, the per-batch lookups are skipped (a bulk load may have dropped their index).
    look_up = Task.objects.filter(status=TaskStatus.OPEN, dedupe_key__startswith="cadence:")
    any_planned = look_up.exists()
    count = 0
    last = 0
    while True:
        batch = list(customers.filter(pk__gt=last)[:PLAN_BATCH])
        if not batch:
            return count
        last = batch[-1].pk
        planned = _planned_customers(batch) if any_planned else set()
        rows = []
        for customer in batch:
            if customer.pk in planned:
                continue
            plan = cadence_interval(customer, plans)
            if plan is None:
                continue
            due, title = terms(customer, plan, now=now)
            rows.append([now, now, title[:200], plan.action, TaskKind.CADENCE.value])
            rows[-1] += [customer.owner_id, customer.pk, due, f"cadence:{customer.pk}"]
        with transaction.atomic():
            ids = bulk.reserve_ids(Task, len(rows))
            count += writer.write([pk, *row] for pk, row in zip(ids, rows, strict=True))


# --- care dates -------------------------------------------------------------------------------


def care_calendar_refresh(*, years: Iterable[int] | None = None) -> int:
    """Store public holidays (holidays.China) and lunar festivals for the coming years."""
    import holidays
    from lunardate import LunarDate

    if years is None:
        first = timezone.localdate().year
        years = range(first, first + int(config.get(rules.CARE_YEARS_AHEAD.key)) + 1)
    created = 0
    for year in years:
        entries: dict[date, tuple[str, str]] = {}
        for lunar_month, lunar_day, festival in TRADITIONAL_FESTIVALS:
            solar = LunarDate(year, lunar_month, lunar_day).to_solar_date()
            entries[solar] = (festival, CareKind.TRADITIONAL)
        seen_names: set[str] = set()
        for day, name in sorted(
            holidays.country_holidays("CN", years=year, language="zh_CN").items()
        ):
            if "休息日" in name or "补假" in name or "调休" in name or name in seen_names:
                continue
            seen_names.add(name)
            if day not in entries and name not in {n for n, _k in entries.values()}:
                entries[day] = (name, CareKind.PUBLIC)
        for day, (name, kind) in entries.items():
            if day.year != year:
                continue
            _row, was_created = CareDate.objects.get_or_create(
                date=day, name=name, department=None, defaults={"kind": kind}
            )
            created += int(was_created)
    return created


def care_reminders(*, now: datetime | None = None) -> int:
    """Greeting tasks N days before holidays (one per owner) and customer anniversaries."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    ahead = int(config.get(rules.CARE_DAYS_AHEAD.key))
    window_end = today + timedelta(days=ahead)
    created = 0
    holidays_soon = list(
        CareDate.objects.filter(is_active=True, date__gte=today, date__lte=window_end)
    )
    if holidays_soon:
        owners = list(
            User.objects.filter(is_active=True, pk__in=_active_customers().values("owner_id"))
        )
        paths = dict(Department.objects.values_list("pk", "path"))
        for holiday in holidays_soon:
            # a department's care date greets through the owners in it and below it
            prefix = paths.get(holiday.department_id, "") if holiday.department_id else ""
            for owner in owners:
                if prefix and not paths.get(owner.department_id or 0, "").startswith(prefix):
                    continue
                if not reminder_once(f"care:holiday:{holiday.pk}:{owner.pk}"):
                    continue
                task_create(
                    actor=None,
                    assignee=owner,
                    title=_("%(holiday)s on %(day)s: send greetings to your customers")
                    % {"holiday": holiday.name, "day": f"{holiday.date:%m-%d}"},
                    description=_("Greetings or small gifts within the compliance rules."),
                    due_at=local_at(max(today, holiday.date - timedelta(days=1)), 10),
                    kind=TaskKind.CARE,
                    dedupe_key=f"care:holiday:{holiday.pk}:{owner.pk}",
                )
                created += 1
    # anniversaries: founded_on month/day inside the window (handles the year boundary)
    days = [today + timedelta(days=offset) for offset in range(ahead + 1)]
    anniversary = Q()
    for day in days:
        anniversary |= Q(founded_on__month=day.month, founded_on__day=day.day)
    for customer in (
        _active_customers()
        .filter(founded_on__isnull=False)
        .filter(anniversary)
        .select_related("owner")
    ):
        assert customer.owner is not None
        assert customer.founded_on is not None
        day = next(
            d
            for d in days
            if (d.month, d.day) == (customer.founded_on.month, customer.founded_on.day)
        )
        years = day.year - customer.founded_on.year
        if years <= 0 or not reminder_once(f"care:anniversary:{customer.pk}:{day.year}"):
            continue
        task_create(
            actor=None,
            assignee=customer.owner,
            title=_("%(customer)s turns %(years)d on %(day)s: send congratulations")
            % {"customer": customer.name, "years": years, "day": f"{day:%m-%d}"},
            due_at=local_at(max(today, day - timedelta(days=1)), 10),
            customer=customer,
            kind=TaskKind.CARE,
            dedupe_key=f"care:anniversary:{customer.pk}:{day.year}",
        )
        created += 1
    return created


def run_hourly(*, now: datetime | None = None) -> dict[str, int]:
    return {
        "first_contact": first_contact_sla(now=now),
        "due_soon": due_soon(now=now),
        "escalated": escalate_overdue(now=now),
        "record": record_reminders(now=now),
        "unverified": unverified_customers(now=now),
        "first_email": emails.first_email_reminders(now=now),
    }


def run_daily(*, now: datetime | None = None) -> dict[str, int]:
    return {
        "stale": stale_contacts(now=now),
        "reviews": monthly_reviews(now=now),
        "care_calendar": care_calendar_refresh(),
        "care": care_reminders(now=now),
        "cadence": cadence_replan_all(now=now),
    }
