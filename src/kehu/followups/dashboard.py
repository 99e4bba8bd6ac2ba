"""The "my tasks" dashboard panel."""

from __future__ import annotations

from django.http import HttpRequest

from kehu.core.dashboard import Panel
from kehu.followups import selectors


def my_tasks_panel(request: HttpRequest) -> Panel | None:
    user = request.user
    if not user.is_authenticated:
        return None
    return Panel(
        template="followups/_dashboard_panel.html",
        context={"day": selectors.my_day_summary(user=user)},
        order=20,
    )
