"""Campaign touches on the customer timeline (one query, two when a link is shown).

The timeline is shown to whoever sees the customer (a rep: their own customers only), so the
touches show there too; the campaign's name links to the campaign page only for those who
see the campaign.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from kehu.campaigns.models import Touch, TouchKind
from kehu.campaigns.selectors.campaigns import visible_campaign_ids
from kehu.customers.timeline import TimelineItem

TIMELINE_LIMIT = 50
ICONS: dict[str, str] = {
    TouchKind.ADDED: "megaphone",
    TouchKind.MESSAGE: "envelope",
    TouchKind.RESPONSE: "reply",
    TouchKind.LEAD: "person-plus",
    TouchKind.UNSUBSCRIBED: "envelope-slash",
}


def customer_touch_items(customer: Any, user: Any) -> Iterable[TimelineItem]:
    touches = list(
        Touch.objects.filter(customer_id=customer.pk)
        .select_related("campaign", "contact")
        .only("at", "kind", "detail", "campaign__name", "contact__name", "lead_id")
        .order_by("-at", "-id")[:TIMELINE_LIMIT]
    )
    linked = visible_campaign_ids(user, {touch.campaign_id for touch in touches})
    for touch in touches:
        who = touch.contact.name if touch.contact is not None else ""
        body = " · ".join(part for part in (who, touch.detail) if part)
        yield TimelineItem(
            when=touch.at,
            title=_("Campaign %(name)s: %(kind)s")
            % {"name": touch.campaign.name, "kind": touch.get_kind_display()},
            body=body,
            icon=ICONS.get(touch.kind, "megaphone"),
            url=reverse("campaigns:detail", args=[touch.campaign_id])
            if touch.campaign_id in linked
            else "",
            kind="campaign",
        )
