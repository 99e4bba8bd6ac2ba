"""Reads of the notifications app; a user only ever reads their own notifications and channels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from kehu.core.access import is_admin
from kehu.core.errors import NotFound
from kehu.core.filters import ListFilters
from kehu.notifications.models import Channel, Delivery, Notification

if TYPE_CHECKING:
    from kehu.accounts.models import User


# Filters of the notification centre and its API. A comment, not a docstring: that would become
# the OpenAPI description of the API's query parameters.
class NotificationFilters(ListFilters):
    unread: bool = False

    def apply(self, queryset: QuerySet[Notification]) -> QuerySet[Notification]:
        if self.unread:
            queryset = queryset.filter(read_at__isnull=True)
        return queryset


def notification_list(
    *, user: User, filters: NotificationFilters | None = None
) -> QuerySet[Notification]:
    rows = Notification.objects.filter(recipient=user).select_related("actor")
    return (filters or NotificationFilters()).apply(rows)


def notification_get(*, user: User, notification_id: int) -> Notification:
    row = Notification.objects.filter(recipient=user, pk=notification_id).first()
    if row is None:
        raise NotFound("notification")
    return row


def unread_count(*, user: User) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def channel_list(*, user: User) -> QuerySet[Channel]:
    return Channel.objects.filter(user=user)


def channel_get(*, user: User, channel_id: int) -> Channel:
    row = Channel.objects.filter(user=user, pk=channel_id).first()
    if row is None:
        raise NotFound("channel")
    return row


def delivery_list(*, user: User, status: str = "") -> QuerySet[Delivery]:
    """The delivery log: admins only (others get nothing)."""
    if not is_admin(user):
        return Delivery.objects.none()
    rows = Delivery.objects.select_related("channel__user", "notification")
    if status:
        rows = rows.filter(status=status)
    return rows
