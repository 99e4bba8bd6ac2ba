from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from icalendar import Calendar

from kehu.accounts.models import User
from kehu.core.testing.factories import Organisation
from kehu.followups import selectors, services
from kehu.followups.models import CalendarFeed, FollowUp, Task
from kehu.followups.tests.factories import make_customer

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 3, 11, 0, tzinfo=SHANGHAI)  # a Wednesday

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_my_day_groups_tasks(org: Organisation, django_assert_max_num_queries: Any) -> None:
    for title, due in [
        ("逾期任务", NOW - timedelta(days=1)),
        ("今天下午", NOW + timedelta(hours=3)),
        ("下周一", NOW + timedelta(days=5)),
        ("很久以后", NOW + timedelta(days=30)),
    ]:
        services.task_create(actor=None, assignee=org.rep, title=title, due_at=due)
    services.task_create(actor=None, assignee=org.colleague, title="别人的任务", due_at=NOW)
    client = signed_in(org.rep)
    with django_assert_max_num_queries(12):
        response = client.get("/followups/")
    page = response.content.decode()
    assert response.status_code == 200
    overdue, today, upcoming = (
        page.index('id="overdue-tasks"'),
        page.index('id="today-tasks"'),
        page.index('id="upcoming-tasks"'),
    )
    assert overdue < page.index("逾期任务") < today < page.index("今天下午") < upcoming
    assert page.index("下周一") > upcoming
    assert "很久以后" not in page
    assert "别人的任务" not in page


def test_my_day_counts_every_task_and_shows_the_first_of_each_group(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    # More overdue tasks than a group shows must not push today's and the coming week's off
    # the page, and each badge counts the whole group (the page read 500 tasks and grouped
    # those: hundreds overdue left "today" empty).
    shown = selectors.MY_DAY_SHOWN
    for index in range(shown + 2):
        services.task_create(
            actor=None,
            assignee=org.rep,
            title=f"逾期{index:02d}",
            due_at=NOW - timedelta(days=2, minutes=index),
        )
    services.task_create(
        actor=None, assignee=org.rep, title="今天下午", due_at=NOW + timedelta(hours=3)
    )
    snoozed = services.task_create(
        actor=None, assignee=org.rep, title="推迟到明天", due_at=NOW - timedelta(days=3)
    )
    services.task_snooze(actor=org.rep, task_id=snoozed.pk, until=NOW + timedelta(days=1))
    client = signed_in(org.rep)
    with django_assert_max_num_queries(14):
        response = client.get("/followups/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    overdue = page[page.index('id="overdue-tasks"') : page.index('id="today-tasks"')]
    assert f'text-bg-danger">{shown + 2}</span>' in overdue
    assert overdue.count('class="list-group-item d-flex') == shown
    assert f"逾期{shown + 1:02d}" in overdue  # the earliest due come first
    assert "逾期00" not in overdue
    assert f"The first {shown} of {shown + 2}, the earliest due first." in overdue
    assert "今天下午" in page[page.index('id="today-tasks"') :]
    assert "推迟到明天" in page[page.index('id="snoozed-tasks"') :]

    day = selectors.my_day(user=org.rep, now=NOW, shown=2)
    assert day.counts == {"overdue": shown + 2, "today": 1, "upcoming": 0, "snoozed": 1}
    assert [len(day.overdue), len(day.today), len(day.upcoming), len(day.snoozed)] == [2, 1, 0, 1]


def test_dashboard_summary_counts_what_my_day_groups(
    org: Organisation, django_assert_num_queries: Any
) -> None:
    cases = [
        ("逾期一", NOW - timedelta(days=2), None),
        ("逾期二", NOW - timedelta(hours=1), None),
        ("推迟到已过", NOW - timedelta(days=1), NOW - timedelta(minutes=5)),  # still overdue
        ("推迟到今晚", NOW - timedelta(days=1), NOW + timedelta(hours=5)),  # snoozed
        ("今天下午", NOW + timedelta(hours=3), None),
        ("明天", NOW + timedelta(days=1), None),
        ("下周一", NOW + timedelta(days=5), None),
        ("很久以后", NOW + timedelta(days=30), None),
    ]
    for title, due, snoozed_until in cases:
        task = services.task_create(actor=None, assignee=org.rep, title=title, due_at=due)
        if snoozed_until is not None:
            Task.objects.filter(pk=task.pk).update(snoozed_until=snoozed_until)
    done = services.task_create(actor=None, assignee=org.rep, title="已完成", due_at=NOW)
    Task.objects.filter(pk=done.pk).update(status="done")
    services.task_create(actor=None, assignee=org.colleague, title="别人的任务", due_at=NOW)
    day = selectors.my_day(user=org.rep, now=NOW)
    with django_assert_num_queries(3):
        summary = selectors.my_day_summary(user=org.rep, now=NOW, shown=1)
    assert (summary.overdue, summary.today, summary.upcoming) == (
        day.counts["overdue"],
        day.counts["today"],
        day.counts["upcoming"],
    )
    assert [len(day.overdue), len(day.today), len(day.upcoming), len(day.snoozed)] == [3, 1, 2, 1]
    assert (summary.overdue, summary.today, summary.upcoming) == (3, 1, 2)
    assert [task.title for task in summary.first_overdue] == [day.overdue[0].title]
    assert [task.title for task in summary.first_today] == ["今天下午"]


def test_task_done_via_htmx(org: Organisation) -> None:
    task = services.task_create(actor=None, assignee=org.rep, title="电话", due_at=NOW)
    response = signed_in(org.rep).post(f"/followups/tasks/{task.pk}/done/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "text-decoration-line-through" in response.content.decode()
    task.refresh_from_db()
    assert task.status == "done"
    assert signed_in(org.south_rep).post(f"/followups/tasks/{task.pk}/cancel/").status_code == 404


def test_calendar_week_and_month(org: Organisation) -> None:
    services.task_create(
        actor=None, assignee=org.rep, title="周五拜访", due_at=NOW + timedelta(days=2)
    )
    services.task_create(
        actor=None, assignee=org.rep, title="月底复盘", due_at=NOW + timedelta(days=25)
    )
    client = signed_in(org.rep)
    week = client.get("/followups/calendar/").content.decode()
    assert "周五拜访" in week
    assert "月底复盘" not in week
    month = client.get("/followups/calendar/?view=month&date=2026-06-15").content.decode()
    assert "周五拜访" in month
    assert "月底复盘" in month


def test_ics_feed_secret_url(org: Organisation) -> None:
    customer = make_customer(org.rep, name="杭州云帆科技有限公司")
    services.task_create(
        actor=None,
        assignee=org.rep,
        title="回访",
        due_at=NOW + timedelta(days=1),
        customer=customer,
    )
    client = signed_in(org.rep)
    settings_page = client.get("/followups/calendar/feed/").content.decode()
    feed = CalendarFeed.objects.get(user=org.rep)
    assert feed.token in settings_page
    anonymous = Client()
    response = anonymous.get(f"/followups/feed/{feed.token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    assert str(events[0]["summary"]) == "回访 · 杭州云帆科技有限公司"
    assert events[0].decoded("dtstart") == NOW + timedelta(days=1)
    # regenerating revokes the old address
    client.post("/followups/calendar/feed/")
    assert anonymous.get(f"/followups/feed/{feed.token}.ics").status_code == 404
    assert anonymous.get("/followups/feed/guess.ics").status_code == 404


def test_customer_timeline_quick_entry_by_htmx(org: Organisation) -> None:
    customer = make_customer(org.rep)
    client = signed_in(org.rep)
    page = client.get(f"/followups/customers/{customer.pk}/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert 'id="followup-form"' in page.content.decode()
    response = client.post(
        f"/followups/customers/{customer.pk}/log/",
        {
            "occurred_at": "2026-06-03T10:30",
            "method": "phone",
            "content": "客户要求下周演示",
            "sentiment": "neutral",
            "next_step_on": "2026-06-08",
            "next_step_action": "产品演示",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "客户要求下周演示" in html
    assert "产品演示" in html
    assert Task.objects.filter(kind="next_step", title="产品演示").exists()
    # the newest first
    services.followup_create(
        actor=org.rep, customer=customer, data={"method": "email", "content": "发送资料"}
    )
    html = client.get(
        f"/followups/customers/{customer.pk}/", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert html.index("发送资料") < html.index("客户要求下周演示")


def test_quick_entry_errors_are_shown_and_nothing_saved(org: Organisation) -> None:
    customer = make_customer(org.rep)
    response = signed_in(org.rep).post(
        f"/followups/customers/{customer.pk}/log/",
        {
            "occurred_at": "2026-06-04T10:30",
            "method": "phone",
            "content": "未来的记录",
            "sentiment": "neutral",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert "invalid-feedback" in response.content.decode()
    assert not FollowUp.objects.exists()


def test_timeline_out_of_scope_is_404(org: Organisation) -> None:
    customer = make_customer(org.south_rep)
    client = signed_in(org.rep)
    assert client.get(f"/followups/customers/{customer.pk}/").status_code == 404
    assert client.post(f"/followups/customers/{customer.pk}/log/", {}).status_code == 404


def test_timeline_provider_for_the_customer_page(org: Organisation) -> None:
    from kehu.followups.timeline import followup_items

    customer = make_customer(org.rep)
    services.followup_create(
        actor=org.rep, customer=customer, data={"method": "visit", "content": "现场拜访"}
    )
    assert [item.body for item in followup_items(customer, org.rep)] == ["现场拜访"]
    assert list(followup_items(customer, org.south_rep)) == []


def test_dashboard_panel(org: Organisation) -> None:
    services.task_create(
        actor=None, assignee=org.rep, title="今天的电话", due_at=NOW + timedelta(hours=1)
    )
    page = signed_in(org.rep).get("/").content.decode()
    assert 'id="panel-my-tasks"' in page
    assert "今天的电话" in page


def test_task_out_of_scope_is_the_404_page_for_htmx_too(org: Organisation) -> None:
    task = services.task_create(actor=None, assignee=org.rep, title="电话", due_at=NOW)
    outsider = signed_in(org.south_rep)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = outsider.post(f"/followups/tasks/{task.pk}/done/", **headers)
        assert response.status_code == 404
        assert "404.html" in {template.name for template in response.templates}
    task.refresh_from_db()
    assert task.status == "open"
