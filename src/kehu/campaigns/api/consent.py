"""/api/v1/consents: a person's marketing consent per channel, and recording it in bulk.

``GET /consents?contact=ID`` (or ``lead=ID``): the consent per channel with its changes
(newest first); a person outside the caller's scope is 404. ``POST /consents``: up to 1,000
rows, each recorded on its own (``services.consent_bulk``), with a result per row.
``POST /consents/import``: the same from a CSV/XLSX file (multipart ``file``; ``source``
defaults to ``import``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from pydantic import Field

from kehu.accounts.http import AuthedRequest
from kehu.campaigns.models import Consent, ConsentChange, ConsentSource
from kehu.campaigns.services import consent as services
from kehu.campaigns.services import consent_bulk
from kehu.core.errors import InvalidInput, NotFound
from kehu.core.numbers import MAX_INT

router = Router(tags=["campaigns"])


class ConsentChangeOut(Schema):
    status: str
    source: str
    note: str
    changed_at: datetime
    changed_by_id: int | None
    send_id: int | None


class ConsentOut(Schema):
    id: int
    contact_id: int | None
    lead_id: int | None
    channel: str
    status: str
    source: str
    changed_at: datetime
    changes: list[ConsentChangeOut]


class ConsentListOut(Schema):
    items: list[ConsentOut]
    count: int


class ConsentPersonQuery(Schema):
    contact: int | None = Field(None, ge=1, le=MAX_INT)
    lead: int | None = Field(None, ge=1, le=MAX_INT)


class ConsentRowIn(Schema):
    contact_id: int | None = Field(None, ge=1, le=MAX_INT)
    lead_id: int | None = Field(None, ge=1, le=MAX_INT)
    email: str = Field("", max_length=254)
    mobile: str = Field("", max_length=40)
    channel: str = Field(..., max_length=20)
    status: str = Field(..., max_length=20)
    source: str = Field(ConsentSource.API, max_length=30)
    note: str = Field("", max_length=300)


class ConsentBulkIn(Schema):
    items: list[ConsentRowIn] = Field(..., max_length=consent_bulk.MAX_ROWS)


class ConsentRowOut(Schema):
    row: int
    result: Literal["recorded", "unchanged", "error"]
    people: int
    errors: dict[str, list[str]]


class ConsentBulkOut(Schema):
    recorded: int
    unchanged: int
    errors: int
    rows: list[ConsentRowOut]


class ConsentImportIn(Schema):
    source: str = Field(ConsentSource.IMPORT, max_length=30)


def _bulk_out(result: consent_bulk.BulkResult) -> dict[str, Any]:
    return {
        "recorded": result.count("recorded"),
        "unchanged": result.count("unchanged"),
        "errors": result.count("error"),
        "rows": [vars(row) for row in result.rows],
    }


@router.get("/consents", response=ConsentListOut)
def list_consents(request: AuthedRequest, filters: Query[ConsentPersonQuery]) -> dict[str, Any]:
    """A contact's or lead's consent per channel, each with its changes (newest first)."""
    user = request.user
    if (filters.contact is None) == (filters.lead is None):
        message = _("Give either contact or lead.")
        raise InvalidInput(message, errors={"contact": [message]})
    if filters.contact is not None:
        if not services.visible_contacts(user).filter(pk=filters.contact).exists():
            raise NotFound("contact")
        rows = Consent.objects.filter(contact_id=filters.contact)
    else:
        lead_id = int(filters.lead or 0)
        if not services.visible_leads(user).filter(pk=lead_id).exists():
            raise NotFound("lead")
        rows = Consent.objects.filter(lead_id=lead_id)
    changes = Prefetch("changes", queryset=ConsentChange.objects.order_by("-changed_at", "-id"))
    items = list(rows.order_by("channel").prefetch_related(changes))
    return {
        "items": [
            {
                "id": row.pk,
                "contact_id": row.contact_id,
                "lead_id": row.lead_id,
                "channel": row.channel,
                "status": row.status,
                "source": row.source,
                "changed_at": row.changed_at,
                "changes": list(row.changes.all()),
            }
            for row in items
        ],
        "count": len(items),
    }


@router.post("/consents", response=ConsentBulkOut)
def record_consents(request: AuthedRequest, payload: ConsentBulkIn) -> dict[str, Any]:
    """Record up to 1,000 rows; one result per row (one bad row does not stop the others)."""
    rows = [item.dict() for item in payload.items]
    return _bulk_out(consent_bulk.consents_record_bulk(actor=request.user, rows=rows))


@router.post("/consents/import", response=ConsentBulkOut)
def import_consents(
    request: AuthedRequest,
    payload: Form[ConsentImportIn],
    file: File[UploadedFile],
) -> dict[str, Any]:
    """Record the rows of a CSV/XLSX file: columns email or mobile (or contact_id, lead_id),
    channel, status, optional source and note."""
    rows = consent_bulk.read_upload(file)
    result = consent_bulk.consents_record_bulk(
        actor=request.user, rows=rows, default_source=payload.source
    )
    for row in result.rows:
        row.row += 1  # the file's line number (the header is line 1)
    return _bulk_out(result)
