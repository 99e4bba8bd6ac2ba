"""Calendar days of the installation's time zone, as ranges of instants.

A filter such as ``created_at__date__gte=day`` converts every row's timestamp to a local date
before comparing, so no index on the column can serve it: filtering a sales rep's customers
by creation date scanned the table (57 ms at size L). ``on_days`` says the same as a range of
instants, which the column's index (or any other the planner prefers) can read.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone


def day_start(day: date) -> datetime:
    """The first instant of ``day`` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def on_days(field: str, first: date | None = None, last: date | None = None) -> Q:
    """``field`` (a timestamp) on the local days ``first`` to ``last``, both included; either
    end may be open."""
    condition = Q()
    if first is not None:
        condition &= Q(**{f"{field}__gte": day_start(first)})
    if last is not None:
        condition &= Q(**{f"{field}__lt": day_start(last + timedelta(days=1))})
    return condition
