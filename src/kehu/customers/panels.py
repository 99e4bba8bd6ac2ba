"""The customers panel on the dashboard and the built-in timeline entries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from kehu.core.dashboard import Panel
from kehu.customers import selectors
from kehu.customers.timeline import TimelineItem


def customers_panel(request: HttpRequest) -> Panel | None:
    user = request.user
    if not user.is_authenticated:
        return None
    list_url = reverse("customers:list")
    return Panel(
        template="customers/_panel.html",
        context={
            **_figures(user),
            "cache_minutes": selectors.TEAM_COMPLETENESS_TTL // 60,
            "stale_url": f"{list_url}?stale=true",
            "unverified_url": f"{list_url}?unverified=true",
            "list_url": list_url,
        },
        order=20,
    )


def _figures(user: Any) -> dict[str, Any]:
    """The panel's counts and averages, kept a few minutes per user.

    They read every visible customer (a manager's 459,000 at size L: ~0.3 s in one pass), on
    every dashboard view; they move slowly, and the panel says how old they may be.
    """
    key = f"customers:panel:{user.pk}"
    figures = cache.get(key)
    if figures is None:
        figures = selectors.panel_figures(user=user)
        figures["departments"] = figures["departments"][:6]
        cache.set(key, figures, selectors.TEAM_COMPLETENESS_TTL)
    return cast(dict[str, Any], figures)


def status_timeline(customer: Any, user: Any) -> Iterable[TimelineItem]:
    for change in selectors.status_history(customer=customer)[:50]:
        title = _("Status: %(status)s") % {"status": change.get_new_status_display()}
        who = str(change.changed_by or _("system"))
        yield TimelineItem(
            when=change.changed_at,
            title=title,
            body=" — ".join(part for part in (who, change.reason) if part),
            icon="flag",
            kind="status",
        )


def attachment_timeline(customer: Any, user: Any) -> Iterable[TimelineItem]:
    for attachment in selectors.attachment_list(customer=customer)[:50]:
        yield TimelineItem(
            when=attachment.uploaded_at,
            title=_("File attached: %(name)s") % {"name": attachment.original_name},
            body=str(attachment.uploaded_by or ""),
            icon="paperclip",
            url=reverse("customers:attachment", args=[attachment.pk]),
            kind="attachment",
        )
