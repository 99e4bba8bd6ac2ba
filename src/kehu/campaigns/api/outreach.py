"""API of the campaigns app: outreach.

/api/v1/templates (list, create, get, patch with version, delete, preview for a member),
/api/v1/campaigns/{id}/sends (list, create: now or scheduled), /api/v1/campaigns/{id}/test-send,
/api/v1/sends/{id} (progress), /api/v1/sends/{id}/messages (per-recipient status, addresses
masked as the viewer sees the person), /api/v1/sends/{id}/cancel.

Unknown merge fields are 422 naming the field, on save and before a send; a send with no
reachable member is 422 ``no_recipients`` with the skipped counts; out of scope is 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from kehu.accounts.http import AuthedRequest
from kehu.campaigns.models import Campaign, Message, MessageTemplate, Send
from kehu.campaigns.selectors import outreach as selectors
from kehu.campaigns.services import merge
from kehu.campaigns.services import sends as send_services
from kehu.campaigns.services import templates as template_services
from kehu.core.errors import InvalidInput, NotFound
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of

router = Router(tags=["campaigns"])


class OutreachTemplateOut(Schema):
    id: int
    name: str
    channel: str
    subject: str
    body: str
    provider_template: str
    owner_id: int
    department_id: int | None
    version: int
    merge_fields: list[str]


class OutreachTemplatePage(BoundedPageOut):
    items: list[OutreachTemplateOut]


class OutreachTemplateIn(Schema):
    name: str = Field(..., max_length=100)
    channel: str = Field(..., max_length=10)
    subject: str = Field("", max_length=200)
    body: str = Field(..., max_length=20000)
    provider_template: str = Field("", max_length=64)


class OutreachTemplatePatch(Schema):
    version: int | None = Field(None, ge=0, le=MAX_INT)
    name: str | None = Field(None, max_length=100)
    subject: str | None = Field(None, max_length=200)
    body: str | None = Field(None, max_length=20000)
    provider_template: str | None = Field(None, max_length=64)


class OutreachPreviewIn(Schema):
    campaign_id: Id
    member_id: Id | None = None


class OutreachPreviewOut(Schema):
    member_id: int | None
    subject: str
    text: str


class OutreachMergeFieldOut(Schema):
    key: str
    label: str
    aliases: list[str]


class SendOut(Schema):
    id: int
    campaign_id: int
    template_id: int
    template_name: str
    channel: str
    status: str
    is_test: bool
    scheduled_for: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    total: int
    sent: int
    failed: int
    queued: int
    skipped: dict[str, int]
    preparing: bool
    created_at: datetime


class SendPage(BoundedPageOut):
    items: list[SendOut]


class SendIn(Schema):
    template_id: Id
    channel: str = Field("", max_length=10)
    scheduled_for: datetime | None = None


class SendTestIn(Schema):
    template_id: Id
    member_id: Id | None = None


class SendMessageOut(Schema):
    id: int
    member_id: int | None
    name: str
    address: str
    masked: bool
    status: str
    reason: str
    provider_id: str
    sent_at: datetime | None


class SendMessagePage(BoundedPageOut):
    items: list[SendMessageOut]


def template_out(template: MessageTemplate) -> dict[str, Any]:
    return {
        "id": template.pk,
        "name": template.name,
        "channel": template.channel,
        "subject": template.subject,
        "body": template.body,
        "provider_template": template.provider_template,
        "owner_id": template.owner_id,
        "department_id": template.department_id,
        "version": template.version,
        "merge_fields": merge.fields_in(template.subject) + merge.fields_in(template.body),
    }


def send_out(send: Send) -> dict[str, Any]:
    return {
        "id": send.pk,
        "campaign_id": send.campaign_id,
        "template_id": send.template_id,
        "template_name": send.template.name,
        "channel": send.channel,
        "status": send.status,
        "is_test": send.is_test,
        "scheduled_for": send.scheduled_for,
        "started_at": send.started_at,
        "finished_at": send.finished_at,
        "total": send.total,
        "sent": send.sent,
        "failed": send.failed,
        "queued": max(send.total - send.sent - send.failed, 0),
        "skipped": send.skipped or {},
        "preparing": send.preparing,
        "created_at": send.created_at,
    }


def _template(request: AuthedRequest, template_id: int) -> MessageTemplate:
    template = selectors.template_get(user=request.user, template_id=template_id)
    if template is None:
        raise NotFound("template")
    return template


def _campaign(request: AuthedRequest, campaign_id: int) -> Campaign:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    if campaign is None:
        raise NotFound("campaign")
    return campaign


def _send(request: AuthedRequest, send_id: int) -> Send:
    send = selectors.send_get(user=request.user, send_id=send_id)
    if send is None:
        raise NotFound("send")
    return send


# --- templates ----------------------------------------------------------------------------


@router.get("/templates/merge-fields", response=list[OutreachMergeFieldOut])
def list_merge_fields(request: AuthedRequest) -> list[dict[str, Any]]:
    """The merge fields a template may use, written ``{{ key }}`` (or an alias)."""
    return [
        {"key": field.key, "label": str(field.label), "aliases": list(field.aliases)}
        for field in merge.FIELDS
    ]


@router.get("/templates", response=OutreachTemplatePage)
def list_templates(
    request: AuthedRequest,
    channel: str = Query("", max_length=10),
    q: str = Query("", max_length=100),
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    rows = selectors.template_list(user=request.user, channel=channel, q=q)
    page = page_of(rows, offset=offset, limit=limit)
    page["items"] = [template_out(row) for row in page["items"]]
    return page


@router.post("/templates", response={201: OutreachTemplateOut})
def create_template(request: AuthedRequest, payload: OutreachTemplateIn) -> Status[dict[str, Any]]:
    """A template; an unknown merge field is 422 naming it (``errors.body``/``subject``)."""
    template = template_services.template_create(actor=request.user, data=payload.dict())
    return Status(201, template_out(template))


@router.get("/templates/{template_id}", response=OutreachTemplateOut)
def get_template(request: AuthedRequest, template_id: Id) -> dict[str, Any]:
    return template_out(_template(request, template_id))


@router.patch("/templates/{template_id}", response=OutreachTemplateOut)
def update_template(
    request: AuthedRequest, template_id: Id, payload: OutreachTemplatePatch
) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    template = template_services.template_update(
        actor=request.user, template_id=template_id, data=data, version=version
    )
    return template_out(template)


@router.delete("/templates/{template_id}", response={204: None})
def delete_template(request: AuthedRequest, template_id: Id) -> Status[None]:
    template_services.template_delete(actor=request.user, template_id=template_id)
    return Status(204, None)


@router.post("/templates/{template_id}/preview", response=OutreachPreviewOut)
def preview_template(
    request: AuthedRequest, template_id: Id, payload: OutreachPreviewIn
) -> dict[str, Any]:
    """The subject and text one member of a campaign would receive (its first member when
    none is named)."""
    template = _template(request, template_id)
    campaign = _campaign(request, payload.campaign_id)
    if payload.member_id is not None:
        member = selectors.member_get(campaign=campaign, member_id=payload.member_id)
        if member is None:
            raise InvalidInput(errors={"member_id": ["Not a member of this campaign."]})
    else:
        first = selectors.member_choices(campaign=campaign, limit=1)
        member = selectors.member_get(campaign=campaign, member_id=first[0].pk) if first else None
    rendered = send_services.preview(template=template, member=member, actor=request.user)
    return {"member_id": member.pk if member else None, **rendered}


# --- sends --------------------------------------------------------------------------------


@router.get("/campaigns/{campaign_id}/sends", response=SendPage)
def list_sends(
    request: AuthedRequest,
    campaign_id: Id,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    campaign = _campaign(request, campaign_id)
    page = page_of(
        selectors.send_list(user=request.user, campaign=campaign), offset=offset, limit=limit
    )
    page["items"] = [send_out(row) for row in page["items"]]
    return page


@router.post("/campaigns/{campaign_id}/sends", response={201: SendOut})
def create_send(request: AuthedRequest, campaign_id: Id, payload: SendIn) -> Status[dict[str, Any]]:
    """Send a template to the campaign's reachable members, now or at ``scheduled_for``."""
    send = send_services.send_create(
        actor=request.user,
        campaign_id=campaign_id,
        template_id=payload.template_id,
        channel=payload.channel,
        scheduled_for=payload.scheduled_for,
    )
    return Status(201, send_out(_send(request, send.pk)))


@router.post("/campaigns/{campaign_id}/test-send", response={201: SendOut})
def create_test_send(
    request: AuthedRequest, campaign_id: Id, payload: SendTestIn
) -> Status[dict[str, Any]]:
    """Send the template to yourself (your e-mail or mobile), rendered for a member."""
    send = send_services.send_test(
        actor=request.user,
        campaign_id=campaign_id,
        template_id=payload.template_id,
        member_id=payload.member_id,
    )
    return Status(201, send_out(_send(request, send.pk)))


@router.get("/sends/{send_id}", response=SendOut)
def get_send(request: AuthedRequest, send_id: Id) -> dict[str, Any]:
    return send_out(_send(request, send_id))


@router.post("/sends/{send_id}/cancel", response=SendOut)
def cancel_send(request: AuthedRequest, send_id: Id) -> dict[str, Any]:
    """Cancel a scheduled or queued send before it starts (409 once it has)."""
    _send(request, send_id)
    send_services.send_cancel(actor=request.user, send_id=send_id)
    return send_out(_send(request, send_id))


@router.get("/sends/{send_id}/messages", response=SendMessagePage)
def list_messages(
    request: AuthedRequest,
    send_id: Id,
    status: str = Query("", max_length=10),
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    send = _send(request, send_id)
    page = page_of(selectors.message_list(send=send, status=status), offset=offset, limit=limit)
    page["items"] = [message_out(request.user, send, row) for row in page["items"]]
    return page


def message_out(user: Any, send: Send, message: Message) -> dict[str, Any]:
    shown = selectors.message_address(user, send, message)
    return {
        "id": message.pk,
        "member_id": message.member_id,
        "name": shown.name,
        "address": shown.address,
        "masked": shown.masked,
        "status": message.status,
        "reason": message.reason,
        "provider_id": message.provider_id,
        "sent_at": message.sent_at,
    }
