"""Reading satisfaction: a customer's average and monthly trend, the staff list of surveys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Avg, Count, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from kehu.core.days import day_start
from kehu.core.errors import NotFound
from kehu.customers.grading import GradeInput
from kehu.service.models import Survey, Ticket

TREND_MONTHS = 12


@dataclass(frozen=True)
class MonthScore:
    month: date
    average: float
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month.strftime("%Y-%m"), "average": self.average, "count": self.count}


def customer_satisfaction(
    customer: Any, *, months: int = TREND_MONTHS
) -> tuple[float | None, list[MonthScore]]:
    """(average score of all the customer's answered surveys, the trend of the last ``months``
    months, oldest first, months without answers left out). Two queries."""
    answered = Survey.objects.filter(customer=customer, answered_at__isnull=False)
    average = answered.aggregate(avg=Avg("score"))["avg"]
    today = timezone.localdate()
    first = _months_back(today.replace(day=1), months - 1)
    rows = (
        answered.filter(answered_at__gte=day_start(first))
        .annotate(month=TruncMonth("answered_at"))
        .values("month")
        .annotate(avg=Avg("score"), n=Count("id"))
        .order_by("month")
    )
    trend = [
        MonthScore(_as_date(row["month"]), round(float(row["avg"]), 2), int(row["n"]))
        for row in rows
    ]
    return (round(float(average), 2) if average is not None else None), trend


def satisfaction_averages(customer_ids: Sequence[int]) -> dict[int, tuple[float, int]]:
    """{customer id: (average score, answers)} for those with answers: one query, for grading
    and lists."""
    rows = (
        Survey.objects.filter(customer_id__in=list(customer_ids), answered_at__isnull=False)
        .values("customer_id")
        .annotate(avg=Avg("score"), n=Count("id"))
    )
    return {row["customer_id"]: (round(float(row["avg"]), 2), int(row["n"])) for row in rows}


def satisfaction_grade_input(customer_ids: Sequence[int]) -> dict[int, GradeInput]:
    """The customers' average satisfaction, for grading (``register_grade_input``)."""
    return {
        pk: GradeInput(satisfaction=average)
        for pk, (average, _answers) in satisfaction_averages(customer_ids).items()
    }


def visible_surveys(user: Any) -> QuerySet[Survey]:
    """The surveys of the tickets ``user`` sees (the ticket's scope is the survey's)."""
    return Survey.objects.filter(ticket__in=Ticket.objects.visible_to(user).values("pk"))


def survey_list(
    *,
    user: Any,
    ticket_id: int | None = None,
    customer_id: int | None = None,
    answered: bool | None = None,
    score: int | None = None,
) -> QuerySet[Survey]:
    surveys = visible_surveys(user).select_related("ticket", "customer")
    if ticket_id is not None:
        surveys = surveys.filter(ticket_id=ticket_id)
    if customer_id is not None:
        surveys = surveys.filter(customer_id=customer_id)
    if answered is not None:
        surveys = surveys.filter(answered_at__isnull=not answered)
    if score is not None:
        surveys = surveys.filter(score=score)
    return surveys.order_by("-id")


def survey_get(*, user: Any, survey_id: int) -> Survey:
    """One survey of a ticket ``user`` sees; ``NotFound`` otherwise (it must not leak)."""
    survey = visible_surveys(user).select_related("ticket", "customer").filter(pk=survey_id)
    found = survey.first()
    if found is None:
        raise NotFound(f"survey {survey_id}")
    return found


def _months_back(first_of_month: date, months: int) -> date:
    year, month = first_of_month.year, first_of_month.month - months
    while month < 1:
        month += 12
        year -= 1
    return date(year, month, 1)


def _as_date(value: Any) -> date:
    if hasattr(value, "date"):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value
