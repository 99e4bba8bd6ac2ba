"""API of the integrations app: webhook subscriptions, their delivery log and redelivery
(administrators; docs/integration.md, "Webhooks")."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.core import events
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of
from kehu.integrations.models import WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription
from kehu.integrations.selectors import webhooks as selectors
from kehu.integrations.services import webhooks as services

router = Router(tags=["integrations"])


class WebhookOut(Schema):
    id: int
    name: str
    url: str
    events: list[str]
    run_as_id: int
    is_active: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str
    version: int
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str


class WebhookIn(Schema):
    name: str
    url: str
    events: list[str]
    run_as: Id
    secret: str | None = None
    is_active: bool = True


class WebhookPatch(Schema):
    version: int
    name: str | None = None
    url: str | None = None
    events: list[str] | None = None
    run_as: Id | None = None
    secret: str | None = None
    is_active: bool | None = None


class WebhookPage(BoundedPageOut):
    items: list[WebhookOut]


class WebhookDeliveryOut(Schema):
    id: int
    webhook_id: int
    event_id: str
    event: str
    instance_id: int
    status: str
    attempts: int
    response_code: int | None
    duration_ms: int | None
    error: str
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    redelivery_of_id: int | None

    @staticmethod
    def resolve_webhook_id(obj: WebhookDelivery) -> int:
        return obj.subscription_id


class WebhookDeliveryDetailOut(WebhookDeliveryOut):
    payload: dict[str, Any]

    @staticmethod
    def resolve_payload(obj: WebhookDelivery) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(obj.body)
        return loaded


class WebhookDeliveryPage(BoundedPageOut):
    items: list[WebhookDeliveryOut]


class WebhookEventOut(Schema):
    name: str
    label: str


@router.get("/webhooks/events", response=list[WebhookEventOut], summary="Events to subscribe to")
def list_events(request: AuthedRequest) -> list[dict[str, str]]:
    selectors.webhook_list(user=request.user)  # administrators only
    return [{"name": name, "label": str(label)} for name, label in events.NAMES.items()]


@router.get("/webhooks", response=WebhookPage, summary="Webhook subscriptions")
def list_webhooks(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    return page_of(selectors.webhook_list(user=request.user), offset=offset, limit=limit)


@router.post("/webhooks", response={201: WebhookCreatedOut}, summary="Subscribe a URL")
def create_webhook(request: AuthedRequest, payload: WebhookIn) -> Status[Any]:
    data = payload.dict()
    if data.get("secret") is None:
        data.pop("secret")
    return Status(201, services.webhook_create(actor=request.user, data=data))


@router.get("/webhooks/{webhook_id}", response=WebhookOut)
def get_webhook(request: AuthedRequest, webhook_id: Id) -> WebhookSubscription:
    return services.webhook_get(user=request.user, webhook_id=webhook_id)


@router.patch("/webhooks/{webhook_id}", response=WebhookOut)
def update_webhook(
    request: AuthedRequest, webhook_id: Id, payload: WebhookPatch
) -> WebhookSubscription:
    webhook = services.webhook_get(user=request.user, webhook_id=webhook_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    data = {key: value for key, value in data.items() if value is not None}
    return services.webhook_update(actor=request.user, webhook=webhook, data=data, version=version)


@router.delete("/webhooks/{webhook_id}", response={204: None})
def delete_webhook(request: AuthedRequest, webhook_id: Id) -> Status[None]:
    webhook = services.webhook_get(user=request.user, webhook_id=webhook_id)
    services.webhook_delete(actor=request.user, webhook=webhook)
    return Status(204, None)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response=WebhookDeliveryPage,
    summary="The delivery log, newest first",
)
def list_deliveries(
    request: AuthedRequest,
    webhook_id: Id,
    status: WebhookDeliveryStatus | None = None,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    webhook = services.webhook_get(user=request.user, webhook_id=webhook_id)
    rows = selectors.delivery_list(user=request.user, webhook=webhook, status=status or "")
    return page_of(rows, offset=offset, limit=limit)


@router.get("/webhook-deliveries/{delivery_id}", response=WebhookDeliveryDetailOut)
def get_delivery(request: AuthedRequest, delivery_id: Id) -> WebhookDelivery:
    return services.delivery_get(user=request.user, delivery_id=delivery_id)


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    response={201: WebhookDeliveryOut},
    summary="Send a delivery again (same event id)",
)
def redeliver(request: AuthedRequest, delivery_id: Id) -> Status[Any]:
    delivery = services.delivery_get(user=request.user, delivery_id=delivery_id)
    return Status(201, services.delivery_redeliver(actor=request.user, delivery=delivery))
