"""Follow-ups as entries of the customer page's timeline (kehu.customers.timeline)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.customers.timeline import TimelineItem
from kehu.followups import selectors
from kehu.followups.models import SentEmail

ICONS = {
    "phone": "telephone",
    "email": "envelope",
    "visit": "geo-alt",
    "online_meeting": "camera-video",
    "wechat": "chat-dots",
    "other": "chat-left-text",
}


def followup_items(customer: Any, user: Any) -> Iterable[Any]:
    if not selectors.conversation_shown(user):
        yield activity_item(customer, user)
        return
    rows = selectors.followup_list(
        user=user, filters=selectors.FollowUpFilters(customer=customer.pk)
    )[:50]
    for row in rows:
        title = _("%(method)s by %(author)s · feedback %(sentiment)s") % {
            "method": row.get_method_display(),
            "author": row.author,
            "sentiment": row.get_sentiment_display(),
        }
        body = row.content
        if row.next_step_on:
            body += "\n" + _("Next step %(day)s: %(action)s") % {
                "day": f"{row.next_step_on:%Y-%m-%d}",
                "action": row.next_step_action,
            }
        yield TimelineItem(
            when=row.occurred_at,
            title=title,
            body=body,
            icon=ICONS.get(row.method, "chat-left-text"),
            url=reverse("followups:followup_detail", args=[row.pk]),
            kind="followup",
        )


def activity_item(customer: Any, user: Any) -> TimelineItem:
    """The conversation in figures, for a role that does not read it (marketing)."""
    activity = selectors.customer_activity(user=user, customer=customer)
    last = activity.last_activity_at
    return TimelineItem(
        when=last or customer.created_at,
        title=_("%(followups)d follow-ups, %(tasks)d open tasks")
        % {"followups": activity.followups, "tasks": activity.open_tasks},
        body=_("Last activity %(day)s") % {"day": f"{timezone.localtime(last):%Y-%m-%d %H:%M}"}
        if last
        else _("No activity yet"),
        icon="activity",
        kind="followup_activity",
    )


def sent_email_items(customer: Any, user: Any) -> Iterable[Any]:
    """The e-mails sent to the customer's contacts from follow-ups (the first-talk e-mail)."""
    if not selectors.conversation_shown(user):
        return
    rows = (
        SentEmail.objects.visible_to(user)
        .filter(customer=customer)
        .select_related("sent_by", "contact")
        .order_by("-sent_at", "-id")[:50]
    )
    for row in rows:
        yield TimelineItem(
            when=row.sent_at,
            title=_("E-mail “%(subject)s” to %(to)s by %(author)s")
            % {
                "subject": row.subject,
                "to": row.contact.name if row.contact else row.to_address,
                "author": row.sent_by or "",
            },
            body=row.body[:300],
            icon="envelope-check",
            url=reverse("followups:email_detail", args=[row.pk]),
            kind="email",
        )
