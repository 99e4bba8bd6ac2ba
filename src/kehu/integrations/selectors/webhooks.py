"""Reads of the webhooks area: subscriptions and their delivery log (admins only)."""

from __future__ import annotations

from django.db.models import QuerySet

from kehu.accounts.models import User
from kehu.core.errors import Forbidden
from kehu.integrations.models import WebhookDelivery, WebhookSubscription
from kehu.integrations.services.webhooks import webhooks_may_manage


def _require_admin(user: User) -> None:
    if not webhooks_may_manage(user):
        raise Forbidden()


def webhook_list(*, user: User) -> QuerySet[WebhookSubscription]:
    _require_admin(user)
    return WebhookSubscription.objects.select_related("run_as").order_by("name", "id")


def delivery_list(
    *, user: User, webhook: WebhookSubscription, status: str = ""
) -> QuerySet[WebhookDelivery]:
    """Newest first; ``status`` narrows to one state (failed, retrying…)."""
    _require_admin(user)
    rows = WebhookDelivery.objects.filter(subscription=webhook).defer("body").order_by("-id")
    return rows.filter(status=status) if status else rows
