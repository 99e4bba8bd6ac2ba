"""/api/v1/notifications: the user's notifications, read state and delivery channels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.core.numbers import MAX_INT
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of
from kehu.notifications import selectors, services

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str
    actor_id: int | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BoundedPageOut):
    items: list[NotificationOut]


class UnreadOut(Schema):
    unread: int


class ChannelOut(Schema):
    id: int
    kind: str
    target: str
    has_secret: bool
    digest: bool
    is_active: bool

    @staticmethod
    def resolve_has_secret(obj: Any) -> bool:
        return bool(obj.secret)


class ChannelIn(Schema):
    kind: str
    target: str = ""
    secret: str = ""
    digest: bool = False


@router.get("", response=NotificationPage, summary="My notifications, newest first")
def list_notifications(
    request: AuthedRequest,
    filters: Query[selectors.NotificationFilters],
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    rows = selectors.notification_list(user=request.user, filters=filters)
    return page_of(rows, offset=offset, limit=limit)


@router.get("/unread-count", response=UnreadOut)
def unread_count(request: AuthedRequest) -> dict[str, int]:
    return {"unread": selectors.unread_count(user=request.user)}


@router.post("/read-all", response=UnreadOut, summary="Mark all my notifications read")
def read_all(request: AuthedRequest) -> dict[str, int]:
    services.notification_mark_all_read(user=request.user)
    return {"unread": 0}


@router.post("/{notification_id}/read", response=NotificationOut)
def read_one(request: AuthedRequest, notification_id: int) -> Any:
    return services.notification_mark_read(user=request.user, notification_id=notification_id)


@router.get("/channels", response=list[ChannelOut], summary="My delivery channels")
def list_channels(request: AuthedRequest) -> Any:
    return list(selectors.channel_list(user=request.user))


@router.post("/channels", response={201: ChannelOut}, summary="Add a delivery channel")
def create_channel(request: AuthedRequest, payload: ChannelIn) -> Status[Any]:
    return Status(201, services.channel_create(actor=request.user, **payload.dict()))


@router.delete("/channels/{channel_id}", response={204: None})
def delete_channel(request: AuthedRequest, channel_id: int) -> Status[None]:
    services.channel_delete(actor=request.user, channel_id=channel_id)
    return Status(204, None)
