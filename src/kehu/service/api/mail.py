"""/api/v1/mailboxes (inbound IMAP mailboxes) and /api/v1/ticket-forms (public ticket forms).

Both are admin settings. A mailbox's password is write-only: it is never returned
(``has_password`` tells whether one is stored) and an empty one in a change keeps it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.core.errors import Forbidden
from kehu.core.numbers import Id
from kehu.service.models import Mailbox, TicketWebForm
from kehu.service.selectors import mail as selectors
from kehu.service.services import mail as services
from kehu.service.services import web_forms

router = Router(tags=["service"])


# --- Schemas ---------------------------------------------------------------------------------
class MailboxIn(Schema):
    name: str = Field(..., max_length=100)
    host: str = Field(..., max_length=200, description="IMAP host name or IP address")
    port: int = Field(993, ge=1, le=65535)
    use_ssl: bool = True
    username: str = Field(..., max_length=200)
    password: str = Field(..., max_length=200, description="Write-only; never returned")
    folder: str = Field("INBOX", max_length=100)
    address: str = Field(..., max_length=254, description="The address replies are sent from")
    department_id: Id | None = None
    is_active: bool = True


class MailboxPatch(Schema):
    name: str | None = Field(None, max_length=100)
    host: str | None = Field(None, max_length=200)
    port: int | None = Field(None, ge=1, le=65535)
    use_ssl: bool | None = None
    username: str | None = Field(None, max_length=200)
    password: str | None = Field(None, max_length=200, description="Empty keeps the stored one")
    folder: str | None = Field(None, max_length=100)
    address: str | None = Field(None, max_length=254)
    department_id: Id | None = None
    is_active: bool | None = None


class MailboxOut(Schema):
    id: int
    name: str
    host: str
    port: int
    use_ssl: bool
    username: str
    has_password: bool
    folder: str
    address: str
    department_id: int | None
    department_name: str
    is_active: bool
    last_polled_at: datetime | None
    last_error: str
    last_uid: int
    uid_validity: int | None


class TestOut(Schema):
    ok: bool
    detail: str


class PollOut(Schema):
    fetched: int
    created: int
    replies: int
    skipped: int
    error: str
    ticket_ids: list[int]


class TicketFormIn(Schema):
    name: str = Field(..., max_length=100)
    slug: str = Field(..., max_length=50, description="The address: /service/forms/<slug>/")
    department_id: Id | None = None
    default_type: str = Field("", max_length=20)
    thank_you: str = Field("", max_length=300)
    is_active: bool = True


class TicketFormPatch(Schema):
    name: str | None = Field(None, max_length=100)
    slug: str | None = Field(None, max_length=50)
    department_id: Id | None = None
    default_type: str | None = Field(None, max_length=20)
    thank_you: str | None = Field(None, max_length=300)
    is_active: bool | None = None


class TicketFormOut(Schema):
    id: int
    name: str
    slug: str
    url: str
    department_id: int | None
    department_name: str
    default_type: str
    thank_you: str
    is_active: bool


def mailbox_out(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "id": mailbox.pk, "name": mailbox.name, "host": mailbox.host, "port": mailbox.port,
        "use_ssl": mailbox.use_ssl, "username": mailbox.username,
        "has_password": bool(mailbox.password), "folder": mailbox.folder,
        "address": mailbox.address, "department_id": mailbox.department_id,
        "department_name": str(mailbox.department or ""), "is_active": mailbox.is_active,
        "last_polled_at": mailbox.last_polled_at, "last_error": mailbox.last_error,
        "last_uid": mailbox.last_uid, "uid_validity": mailbox.uid_validity,
    }  # fmt: skip


def ticket_form_out(form: TicketWebForm) -> dict[str, Any]:
    return {
        "id": form.pk, "name": form.name, "slug": form.slug,
        "url": f"/service/forms/{form.slug}/", "department_id": form.department_id,
        "department_name": str(form.department or ""), "default_type": form.default_type,
        "thank_you": form.thank_you, "is_active": form.is_active,
    }  # fmt: skip


def _data(payload: Schema) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    if "department_id" in data:
        data["department"] = data.pop("department_id")
    return data


def _mailbox_admin(request: AuthedRequest) -> None:
    """403 before any look-up, so an id tells nothing to a role that may not manage them."""
    if not services.mailboxes_may_manage(request.user):
        raise Forbidden(str(Forbidden.default_detail))


def _form_admin(request: AuthedRequest) -> None:
    if not web_forms.ticket_forms_may_manage(request.user):
        raise Forbidden(str(Forbidden.default_detail))


def _mailbox(mailbox_id: int) -> Mailbox:
    return get_object_or_404(selectors.mailbox_list(), pk=mailbox_id)


# --- Mailboxes -------------------------------------------------------------------------------
@router.get("/mailboxes", response=list[MailboxOut], summary="Inbound mailboxes (admin)")
def list_mailboxes(request: AuthedRequest) -> list[dict[str, Any]]:
    _mailbox_admin(request)
    return [mailbox_out(mailbox) for mailbox in selectors.mailbox_list()]


@router.post("/mailboxes", response={201: MailboxOut}, summary="Add an inbound mailbox (admin)")
def create_mailbox(request: AuthedRequest, payload: MailboxIn) -> Status:
    _mailbox_admin(request)
    mailbox = services.mailbox_create(actor=request.user, data=_data(payload))
    return Status(201, mailbox_out(mailbox))


@router.get("/mailboxes/{mailbox_id}", response=MailboxOut, summary="One mailbox (admin)")
def get_mailbox(request: AuthedRequest, mailbox_id: Id) -> dict[str, Any]:
    _mailbox_admin(request)
    return mailbox_out(_mailbox(mailbox_id))


@router.patch("/mailboxes/{mailbox_id}", response=MailboxOut, summary="Change a mailbox (admin)")
def update_mailbox(request: AuthedRequest, mailbox_id: Id, payload: MailboxPatch) -> dict[str, Any]:
    _mailbox_admin(request)
    mailbox = services.mailbox_update(
        actor=request.user, mailbox=_mailbox(mailbox_id), data=_data(payload)
    )
    return mailbox_out(mailbox)


@router.delete("/mailboxes/{mailbox_id}", response={204: None}, summary="Delete a mailbox (admin)")
def delete_mailbox(request: AuthedRequest, mailbox_id: Id) -> Status:
    _mailbox_admin(request)
    services.mailbox_delete(actor=request.user, mailbox=_mailbox(mailbox_id))
    return Status(204, None)


@router.post(
    "/mailboxes/{mailbox_id}/test", response=TestOut, summary="Test the connection (admin)"
)
def test_mailbox(request: AuthedRequest, mailbox_id: Id) -> dict[str, Any]:
    _mailbox_admin(request)
    ok, detail = services.mailbox_test(_mailbox(mailbox_id))
    return {"ok": ok, "detail": detail}


@router.post("/mailboxes/{mailbox_id}/poll", response=PollOut, summary="Read new mail now (admin)")
def poll_mailbox(request: AuthedRequest, mailbox_id: Id) -> dict[str, Any]:
    _mailbox_admin(request)
    result = services.mailbox_poll(_mailbox(mailbox_id))
    return {
        "fetched": result.fetched, "created": result.created, "replies": result.replies,
        "skipped": result.skipped, "error": result.error, "ticket_ids": result.ticket_ids,
    }  # fmt: skip


# --- Public ticket forms ---------------------------------------------------------------------
@router.get("/ticket-forms", response=list[TicketFormOut], summary="Public ticket forms (admin)")
def list_ticket_forms(request: AuthedRequest) -> list[dict[str, Any]]:
    _form_admin(request)
    return [ticket_form_out(form) for form in selectors.ticket_form_list()]


@router.post("/ticket-forms", response={201: TicketFormOut}, summary="Add a ticket form (admin)")
def create_ticket_form(request: AuthedRequest, payload: TicketFormIn) -> Status:
    _form_admin(request)
    form = web_forms.ticket_form_create(actor=request.user, data=_data(payload))
    return Status(201, ticket_form_out(form))


@router.get(
    "/ticket-forms/{ticket_form_id}", response=TicketFormOut, summary="One ticket form (admin)"
)
def get_ticket_form(request: AuthedRequest, ticket_form_id: Id) -> dict[str, Any]:
    _form_admin(request)
    return ticket_form_out(get_object_or_404(selectors.ticket_form_list(), pk=ticket_form_id))


@router.patch(
    "/ticket-forms/{ticket_form_id}", response=TicketFormOut, summary="Change a ticket form (admin)"
)
def update_ticket_form(
    request: AuthedRequest, ticket_form_id: Id, payload: TicketFormPatch
) -> dict[str, Any]:
    _form_admin(request)
    form = get_object_or_404(selectors.ticket_form_list(), pk=ticket_form_id)
    form = web_forms.ticket_form_update(actor=request.user, form=form, data=_data(payload))
    return ticket_form_out(form)


@router.delete(
    "/ticket-forms/{ticket_form_id}", response={204: None}, summary="Delete a ticket form (admin)"
)
def delete_ticket_form(request: AuthedRequest, ticket_form_id: Id) -> Status:
    _form_admin(request)
    form = get_object_or_404(selectors.ticket_form_list(), pk=ticket_form_id)
    web_forms.ticket_form_delete(actor=request.user, form=form)
    return Status(204, None)
