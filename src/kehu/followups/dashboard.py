"""The "my tasks" dashboard panel."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import pgettext

from kehu.core.dashboard import Panel
from kehu.core.formatting import iso_date
from kehu.followups import selectors


def my_tasks_panel(request: HttpRequest) -> Panel | None:
    user = request.user
    if not user.is_authenticated:
        return None
    return Panel(
        template="followups/_dashboard_panel.html",
        context={"day": selectors.my_day_summary(user=user), "week": week_chart(user)},
        order=20,
    )


def week_chart(user: Any) -> dict[str, Any]:
    """Tasks due each day of this week, open and done: a manager's teams', anyone else's own."""
    team = getattr(user, "role", "") == "manager"
    days = selectors.tasks_due_this_week(user=user, team=team)
    return {
        "categories": [iso_date(day.day) for day in days],
        "categoryKind": "day",
        "team": team,
        "series": [
            {
                "name": pgettext("tasks chart", "Open"),
                "type": "bar",
                "stack": "tasks",
                "data": [day.open for day in days],
            },
            {
                "name": pgettext("tasks chart", "Done"),
                "type": "bar",
                "stack": "tasks",
                "data": [day.done for day in days],
            },
        ],
    }
