"""The dashboard's "tasks due this week" chart: per day, open and done, in one query."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from kehu.core.testing.factories import Organisation
from kehu.followups import selectors, services
from kehu.followups.tests.factories import make_customer

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 3, 11, 0, tzinfo=SHANGHAI)  # a Wednesday


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def test_tasks_due_this_week_per_day_open_and_done(
    org: Organisation, django_assert_num_queries: Any
) -> None:
    monday = (NOW - timedelta(days=2)).replace(hour=9)
    for title, due in [
        ("周一", monday),
        ("周三上午", NOW - timedelta(hours=2)),
        ("周三晚上", NOW.replace(hour=23, minute=30)),  # still Wednesday in Shanghai
        ("周日", monday + timedelta(days=6, hours=5)),
        ("下周一", monday + timedelta(days=7)),  # next week: left out
        ("上周日", monday.replace(hour=0) - timedelta(minutes=1)),  # last week: left out
    ]:
        services.task_create(actor=None, assignee=org.rep, title=title, due_at=due)
    done = services.task_create(actor=None, assignee=org.rep, title="已完成", due_at=NOW)
    services.task_complete(actor=org.rep, task_id=done.pk)
    services.task_create(actor=None, assignee=org.colleague, title="同事的", due_at=NOW)

    with django_assert_num_queries(1):
        week = selectors.tasks_due_this_week(user=org.rep)
    assert [day.day for day in week] == [date(2026, 6, 1) + timedelta(days=n) for n in range(7)]
    assert [day.open for day in week] == [1, 0, 2, 0, 0, 0, 1]
    assert [day.done for day in week] == [0, 0, 1, 0, 0, 0, 0]


def test_a_manager_sees_the_team_week_a_rep_only_their_own(org: Organisation) -> None:
    customer = make_customer(org.colleague)
    services.task_create(
        actor=None, assignee=org.colleague, title="同事的", due_at=NOW, customer=customer
    )
    services.task_create(actor=None, assignee=org.south_rep, title="华南", due_at=NOW)
    team = selectors.tasks_due_this_week(user=org.east_manager, team=True)
    assert sum(day.open for day in team) == 1  # not the other region's task
    assert sum(day.open for day in selectors.tasks_due_this_week(user=org.rep)) == 0


def test_dashboard_draws_the_week_chart(org: Organisation) -> None:
    services.task_create(actor=None, assignee=org.rep, title="电话", due_at=NOW)
    client = Client()
    client.force_login(org.rep)
    response = client.get("/")
    page = response.content.decode()
    assert 'id="week-chart"' in page
    assert 'id="week-chart-data"' in page
    assert "kehu/dashboard.js" in page
    assert "vendor/echarts/echarts.min.js" in page
    panel = next(p for p in response.context["panels"] if p.template.startswith("followups/"))
    assert panel.context["week"]["categories"][0] == "2026-06-01"
    assert panel.context["week"]["series"][0]["data"] == [0, 0, 1, 0, 0, 0, 0]
