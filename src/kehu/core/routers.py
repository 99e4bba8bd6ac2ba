"""API routes of the core: /api/v1/history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from kehu.core import selectors

router = Router(tags=["history"])


class FieldChangeOut(Schema):
    field: str
    label: str
    old: Any
    new: Any


class HistoryEntryOut(Schema):
    id: int
    when: datetime
    action: str
    action_label: str
    user_id: int | None
    user_name: str
    reason: str
    request_id: str
    changes: list[FieldChangeOut]


class HistoryOut(Schema):
    items: list[HistoryEntryOut]
    count: int


@router.get(
    "/{model_label}/{object_id}",
    response=HistoryOut,
    summary="Change history of one record (newest first)",
)
def record_history(request: HttpRequest, model_label: str, object_id: int) -> dict[str, Any]:
    record = selectors.record_for_history(
        user=request.user, model_label=model_label, object_id=object_id
    )
    entries = selectors.record_history(user=request.user, record=record)
    return {"items": entries, "count": len(entries)}
