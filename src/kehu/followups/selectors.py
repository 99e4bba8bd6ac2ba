"""Reads of the follow-up app, always scoped first (Model.objects.visible_to(user))."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from kehu.core.access import get_editable_or_404, get_visible_or_404
from kehu.core.days import day_start
from kehu.core.errors import NotFound
from kehu.core.filters import ListFilters
from kehu.core.numbers import Id
from kehu.core.pagination import page_of
from kehu.customers.models import Customer
from kehu.followups.access import conversation_withheld
from kehu.followups.models import (
    Attachment,
    CalendarFeed,
    FollowUp,
    Task,
    TaskStatus,
    is_overdue,
    recorded_late,
)

if TYPE_CHECKING:
    from kehu.accounts.models import User


# What the pages show of a follow-up's and a task's relations (names, links).
FOLLOWUP_RELATED = ("customer", "contact", "author", "next_step_owner")
TASK_RELATED = ("assignee", "customer")


# Filters of the follow-up list (API) and a customer's timeline. Comments, not docstrings: a
# docstring would become the OpenAPI description of the API's query parameters.
class FollowUpFilters(ListFilters):
    customer: Id | None = None
    author: Id | None = None
    method: str | None = None
    sentiment: str | None = None
    q: str | None = None

    def apply(self, queryset: QuerySet[FollowUp]) -> QuerySet[FollowUp]:
        if self.customer:
            queryset = queryset.filter(customer_id=self.customer)
        if self.author:
            queryset = queryset.filter(author_id=self.author)
        if self.method:
            queryset = queryset.filter(method=self.method)
        if self.sentiment:
            queryset = queryset.filter(sentiment=self.sentiment)
        if self.q:
            queryset = queryset.filter(
                Q(content__icontains=self.q) | Q(customer__name__icontains=self.q)
            )
        return queryset


def followup_list(
    *,
    user: User,
    filters: FollowUpFilters | None = None,
    related: tuple[str, ...] = FOLLOWUP_RELATED,
) -> QuerySet[FollowUp]:
    rows: QuerySet[FollowUp] = FollowUp.objects.visible_to(user).select_related(*related)
    rows = (filters or FollowUpFilters()).apply(rows)
    return rows.prefetch_related("attachments").order_by("-occurred_at", "-id")


def followup_rows(
    *, user: User, filters: FollowUpFilters, fields: Sequence[str], offset: int, limit: int
) -> dict[str, Any]:
    """One page of the follow-up list as plain rows for the API (``page_of``'s envelope).

    ``values()`` rows without the pages' joins (the API names customers, contacts and people
    by id), which the router answers without the response schema: a manager's page at size L
    took 8.6 ms of CPU as model instances through the schema, 6.3 ms so. The record type comes
    from the content-type cache, the attachments in one query for the page.
    """
    derived = {"related_type", "attachments", "recorded_late"}
    columns = [name for name in fields if name not in derived] + ["related_type_id"]
    queryset = followup_list(user=user, filters=filters, related=()).prefetch_related(None)
    page = page_of(queryset.values(*columns), offset=offset, limit=limit)
    rows: list[dict[str, Any]] = page["items"]
    attachments = _attachments_of([row["id"] for row in rows])
    for row in rows:
        row["related_type"] = _type_label(row.pop("related_type_id"))
        row["attachments"] = attachments.get(row["id"], [])
        row["recorded_late"] = recorded_late(row["occurred_at"], row["created_at"])
    return page


def _attachments_of(followup_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The API's attachments (id, name, size, type) of each follow-up, in one query."""
    found: dict[int, list[dict[str, Any]]] = {}
    if followup_ids:
        files = Attachment.objects.filter(followup_id__in=followup_ids).order_by("id")
        rows = files.values_list("followup_id", "id", "name", "size", "content_type")
        for followup_id, pk, name, size, content_type in rows:
            file = {"id": pk, "name": name, "size": size, "content_type": content_type}
            found.setdefault(followup_id, []).append(file)
    return found


def _type_label(content_type_id: int | None) -> str | None:
    """``app_label.model`` of a generic link's type, from Django's content-type cache."""
    if content_type_id is None:
        return None
    content_type = ContentType.objects.get_for_id(content_type_id)
    return f"{content_type.app_label}.{content_type.model}"


def followup_get(*, user: User, followup_id: int) -> FollowUp:
    return get_visible_or_404(
        FollowUp.objects.select_related(*FOLLOWUP_RELATED),
        user,
        pk=followup_id,
    )


@dataclass(frozen=True)
class CustomerActivity:
    """What a customer's page tells of its conversation without showing it: the last
    activity, how many follow-ups were logged and how many tasks are open."""

    last_activity_at: datetime | None
    followups: int
    open_tasks: int


def customer_activity(*, user: User, customer: Customer) -> CustomerActivity:
    """The activity of a customer the user sees, counted over all its rows: a role the
    conversation is withheld from (marketing) sees the figures, not the follow-ups.

    The customer's own scope is the gate (its follow-ups are seen exactly where it is);
    ``NotFound`` outside it.
    """
    if not Customer.objects.visible_to(user).filter(pk=customer.pk).exists():
        raise NotFound("customer")
    return CustomerActivity(
        last_activity_at=customer.last_contact_at,
        followups=FollowUp.objects.filter(customer_id=customer.pk).count(),
        open_tasks=Task.objects.filter(customer_id=customer.pk, status=TaskStatus.OPEN).count(),
    )


def conversation_shown(user: User) -> bool:
    """Whether the user's role reads the follow-ups and tasks of the customers it sees."""
    return not conversation_withheld(user)


def attachment_get(*, user: User, attachment_id: int) -> Attachment:
    return get_visible_or_404(Attachment.objects.all(), user, pk=attachment_id)


# Filters of the task list (API) and a customer's open tasks; ``mine``: own tasks only.
class TaskFilters(ListFilters):
    mine: bool = False
    assignee: Id | None = None
    status: str | None = None
    customer: Id | None = None
    kind: str | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    q: str | None = None

    def apply(self, queryset: QuerySet[Task]) -> QuerySet[Task]:
        """Narrows a scope; ``mine`` chooses the scope itself (``task_list``)."""
        if self.assignee:
            queryset = queryset.filter(assignee_id=self.assignee)
        if self.status:
            queryset = queryset.filter(status=self.status)
        if self.customer:
            queryset = queryset.filter(customer_id=self.customer)
        if self.kind:
            queryset = queryset.filter(kind=self.kind)
        if self.due_from:
            queryset = queryset.filter(due_at__gte=self.due_from)
        if self.due_to:
            queryset = queryset.filter(due_at__lt=self.due_to)
        if self.q:
            queryset = queryset.filter(
                Q(title__icontains=self.q) | Q(customer__name__icontains=self.q)
            )
        return queryset


def task_list(
    *,
    user: User,
    filters: TaskFilters | None = None,
    related: tuple[str, ...] = TASK_RELATED,
) -> QuerySet[Task]:
    filters = filters or TaskFilters()
    scoped = Task.objects.own_of(user) if filters.mine else Task.objects.visible_to(user)
    rows = filters.apply(scoped.select_related(*related))
    return rows.order_by("due_at", "id")


def task_rows(
    *, user: User, filters: TaskFilters, fields: Sequence[str], offset: int, limit: int
) -> dict[str, Any]:
    """One page of the task list as plain rows for the API, as ``followup_rows``.

    The count walks the list's order (``bounded_count(ordered=True)``), unless the user's own
    tasks alone pass the cap: they are part of every scope (``AccessPolicy.own_filter``) and
    the assignee's index counts them in 0.2 ms, where the whole scope checks each task's
    customer. The bench's sales rep sees one task in seven, so reaching the cap took 5,764
    lookups (25 ms at size L) when the rep's 30,201 own tasks already pass it.
    """
    derived = {"related_type", "is_overdue"}
    columns = [name for name in fields if name not in derived] + ["related_type_id"]
    queryset = task_list(user=user, filters=filters, related=()).values(*columns)
    mine = filters.model_copy(update={"mine": True})
    own = None if filters.mine else task_list(user=user, filters=mine, related=())
    page = page_of(queryset, offset=offset, limit=limit, ordered_count=True, subset=own)
    for row in page["items"]:
        row["related_type"] = _type_label(row.pop("related_type_id"))
        row["is_overdue"] = is_overdue(row["status"], row["due_at"], row["snoozed_until"])
    return page


def task_get(*, user: User, task_id: int) -> Task:
    return get_visible_or_404(
        Task.objects.select_related("assignee", "customer", "followup", "created_by"),
        user,
        pk=task_id,
    )


def task_get_editable(*, user: User, task_id: int) -> Task:
    """A task the user may work: 404 if they do not see it, 403 if they only see it."""
    return get_editable_or_404(Task.objects.all(), user, pk=task_id)


@dataclass
class MyDay:
    """The user's open tasks due by the end of the coming week, by group: the first ``shown``
    of each, with their customers, and how many each group holds (``counts``)."""

    overdue: list[Task]
    today: list[Task]
    upcoming: list[Task]
    snoozed: list[Task]
    counts: dict[str, int]


def _day_bounds(now: datetime, upcoming_days: int) -> tuple[datetime, datetime]:
    """The start of tomorrow and the end of the coming week, in local days."""
    start_of_tomorrow = day_start(timezone.localdate(now) + timedelta(days=1))
    return start_of_tomorrow, start_of_tomorrow + timedelta(days=upcoming_days)


def _day_groups(
    user: User, now: datetime, upcoming_days: int
) -> tuple[QuerySet[Task], dict[str, Q]]:
    """The user's open tasks due before the horizon, and the filter of each group of ``MyDay``."""
    start_of_tomorrow, horizon = _day_bounds(now, upcoming_days)
    tasks = (
        Task.objects.own_of(user)
        .filter(status=TaskStatus.OPEN, due_at__lt=horizon)
        # Task.effective_due: a snooze past the due time moves it
        .annotate(effective=Greatest("due_at", Coalesce("snoozed_until", "due_at")))
    )
    snoozed = Q(snoozed_until__gt=now)
    return tasks, {
        "overdue": ~snoozed & Q(effective__lt=now),
        "today": ~snoozed & Q(effective__gte=now, effective__lt=start_of_tomorrow),
        "upcoming": ~snoozed & Q(effective__gte=start_of_tomorrow),
        "snoozed": snoozed,
    }


def _day_counts(tasks: QuerySet[Task], groups: dict[str, Q]) -> dict[str, int]:
    return tasks.aggregate(**{name: Count("pk", filter=where) for name, where in groups.items()})


MY_DAY_SHOWN = 50


def my_day(
    *,
    user: User,
    now: datetime | None = None,
    upcoming_days: int = 7,
    shown: int = MY_DAY_SHOWN,
) -> MyDay:
    """The "my day" page: each group counted in the database and its first ``shown`` tasks.

    It read the first 500 open tasks and grouped them in Python: a sales rep with hundreds
    overdue saw no task due today, and counts that stopped at 500 (size L: 549 tasks, 125 ms
    to render).
    """
    now = now or timezone.now()
    tasks, groups = _day_groups(user, now, upcoming_days)
    counts = _day_counts(tasks, groups)
    rows = tasks.select_related("customer").order_by("due_at", "id")
    lists = {
        name: list(rows.filter(where)[:shown]) if counts[name] else []
        for name, where in groups.items()
    }
    return MyDay(**lists, counts=counts)


@dataclass
class DaySummary:
    """``my_day`` as the dashboard shows it: how many tasks in each group, the first few."""

    overdue: int
    today: int
    upcoming: int
    first_overdue: list[Task]
    first_today: list[Task]


def my_day_summary(
    *, user: User, now: datetime | None = None, upcoming_days: int = 7, shown: int = 3
) -> DaySummary:
    """``my_day``'s counts, with only the first ``shown`` titles of the overdue and today
    groups (the dashboard's panel)."""
    now = now or timezone.now()
    tasks, groups = _day_groups(user, now, upcoming_days)
    counts = _day_counts(tasks, groups)
    first = tasks.only("id", "title").order_by("due_at", "id")
    return DaySummary(
        overdue=counts["overdue"],
        today=counts["today"],
        upcoming=counts["upcoming"],
        first_overdue=list(first.filter(groups["overdue"])[:shown]),
        first_today=list(first.filter(groups["today"])[:shown]),
    )


@dataclass
class DayTasks:
    """Tasks due on one day of the week: still open (``overdue`` once the day passed) and done."""

    day: date
    open: int
    done: int


def tasks_due_this_week(
    *, user: User, team: bool = False, today: date | None = None
) -> list[DayTasks]:
    """Tasks due each day of this week (Monday to Sunday), open and done, in one query: the
    user's own, or with ``team`` every task the user sees (a manager's teams)."""
    today = today or timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    days = [monday + timedelta(days=offset) for offset in range(7)]
    tasks = Task.objects.visible_to(user) if team else Task.objects.own_of(user)
    counts: dict[str, Any] = {}
    for index, day in enumerate(days):
        on_day = Q(due_at__gte=day_start(day), due_at__lt=day_start(day + timedelta(days=1)))
        counts[f"open_{index}"] = Count("pk", filter=on_day & Q(status=TaskStatus.OPEN))
        counts[f"done_{index}"] = Count("pk", filter=on_day & Q(status=TaskStatus.DONE))
    week = tasks.filter(
        due_at__gte=day_start(monday), due_at__lt=day_start(days[-1]) + timedelta(days=1)
    )
    totals = week.aggregate(**counts)
    return [
        DayTasks(day, totals[f"open_{index}"], totals[f"done_{index}"])
        for index, day in enumerate(days)
    ]


def calendar_tasks(*, user: User, start: date, end: date) -> QuerySet[Task]:
    """Tasks of the user (own) due in [start, end) local days, for the week/month views."""
    return (
        Task.objects.own_of(user)
        .filter(due_at__gte=day_start(start), due_at__lt=day_start(end))
        .exclude(status=TaskStatus.CANCELLED)
        .select_related("customer")
        .order_by("due_at", "id")
    )


def feed_for_token(token: str) -> CalendarFeed:
    feed = CalendarFeed.objects.select_related("user").filter(token=token).first()
    if feed is None or not feed.user.is_active:
        raise NotFound("feed")
    return feed


def feed_tasks(*, user: User, now: datetime | None = None) -> QuerySet[Task]:
    now = now or timezone.now()
    return (
        Task.objects.filter(assignee=user, due_at__gte=now - timedelta(days=30))
        .exclude(status=TaskStatus.CANCELLED)
        .select_related("customer")
        .order_by("due_at", "id")[:1000]
    )
