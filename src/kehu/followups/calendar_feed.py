"""The iCalendar (.ics) feed of a user's tasks, served at a secret URL."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from icalendar import Alarm, Calendar, Event

from kehu.followups import selectors
from kehu.followups.models import CalendarFeed, TaskStatus, _feed_token

if TYPE_CHECKING:
    from kehu.accounts.models import User


def feed_path(feed: CalendarFeed) -> str:
    return reverse("followups:ics_feed", args=[feed.token])


@transaction.atomic
def feed_regenerate(*, user: User) -> CalendarFeed:
    feed, created = CalendarFeed.objects.get_or_create(user=user)
    if not created:
        feed.token = _feed_token()
        feed.created_at = timezone.now()
        feed.save(update_fields=["token", "created_at"])
    return feed


def render_ics(*, user: User, base_url: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Kehu CRM//Tasks//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Kehu · {user}")
    stamp = timezone.now()
    base = base_url.rstrip("/")
    for task in selectors.feed_tasks(user=user):
        event = Event()
        event.add("uid", f"task-{task.pk}@kehu")
        event.add("dtstamp", stamp)
        start = task.effective_due
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(minutes=30))
        summary = task.title if not task.customer else f"{task.title} · {task.customer.name}"
        event.add("summary", summary)
        if task.description:
            event.add("description", task.description)
        event.add("url", base + reverse("followups:task_detail", args=[task.pk]))
        event.add("status", "COMPLETED" if task.status == TaskStatus.DONE else "CONFIRMED")
        event.add("sequence", task.version)
        if task.status == TaskStatus.OPEN:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", summary)
            alarm.add("trigger", timedelta(minutes=-15))
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
