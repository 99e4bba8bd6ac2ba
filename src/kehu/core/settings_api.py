"""API routes of the settings area: /api/v1/settings (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from kehu.core import settings_area
from kehu.core.models import SettingChange
from kehu.core.numbers import MAX_INT
from kehu.core.pagination import page_of

router = Router(tags=["settings"])


class ChoiceOut(Schema):
    value: Any
    label: str


class SettingOut(Schema):
    key: str
    label: str
    group: str
    group_label: str
    kind: str = Field(description="bool, int, float, str, list, dict, rows (list of dicts), json")
    unit: str
    minimum: float | None
    maximum: float | None
    choices: list[ChoiceOut]
    optional_fields: list[str]
    help: str
    default: Any
    value: Any
    is_default: bool
    changed_at: datetime | None
    changed_by: str | None


class SettingListOut(Schema):
    items: list[SettingOut]
    count: int


class SettingIn(Schema):
    value: Any = Field(
        description="The new value, of the setting's kind; checked (422 names the key)"
    )
    reason: str = Field(max_length=settings_area.MAX_REASON, description="Why it changes")


class ResetIn(Schema):
    reason: str = Field(max_length=settings_area.MAX_REASON)


class SettingChangeOut(Schema):
    id: int
    key: str
    old_value: Any
    new_value: Any
    reset: bool
    changed_by_id: int | None
    changed_by: str | None
    changed_at: datetime
    reason: str
    request_id: str


class SettingChangesOut(Schema):
    items: list[SettingChangeOut]
    count: int
    count_capped: bool


class HistoryQuery(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_INT)


def _setting(row: settings_area.SettingRow) -> dict[str, Any]:
    spec = row.spec
    change = row.last_change
    return {
        "key": spec.key,
        "label": str(spec.label),
        "group": spec.group,
        "group_label": spec.group_label,
        "kind": spec.kind,
        "unit": str(spec.unit),
        "minimum": spec.minimum,
        "maximum": spec.maximum,
        "choices": [{"value": value, "label": label} for value, label in spec.choice_pairs],
        "optional_fields": list(spec.optional),
        "help": str(spec.help),
        "default": spec.default,
        "value": row.value,
        "is_default": row.is_default,
        "changed_at": change.changed_at if change else None,
        "changed_by": str(change.changed_by) if change and change.changed_by else None,
    }


def _change(change: SettingChange) -> dict[str, Any]:
    return {
        "id": change.pk,
        "key": change.key,
        "old_value": change.old_value,
        "new_value": change.new_value,
        "reset": change.reset,
        "changed_by_id": change.changed_by_id,
        "changed_by": str(change.changed_by) if change.changed_by else None,
        "changed_at": change.changed_at,
        "reason": change.reason,
        "request_id": change.request_id,
    }


def _changes(queryset: Any, query: HistoryQuery) -> dict[str, Any]:
    page = page_of(queryset, offset=query.offset, limit=query.limit)
    page["items"] = [_change(change) for change in page["items"]]
    return page


@router.get("", response=SettingListOut, summary="Every setting with its metadata and value")
def setting_list(request: HttpRequest, group: str = "") -> dict[str, Any]:
    rows = settings_area.setting_list(user=request.user, group=group)
    return {"items": [_setting(row) for row in rows], "count": len(rows)}


@router.get("/history", response=SettingChangesOut, summary="Changes of every setting")
def setting_changes(request: HttpRequest, query: Query[HistoryQuery]) -> dict[str, Any]:
    return _changes(settings_area.setting_history(user=request.user), query)


@router.get("/{key}", response=SettingOut, summary="One setting")
def setting_get(request: HttpRequest, key: str) -> dict[str, Any]:
    return _setting(settings_area.setting_get(user=request.user, key=key))


@router.put("/{key}", response=SettingOut, summary="Change a setting, with the reason")
def setting_update(request: HttpRequest, key: str, payload: SettingIn) -> dict[str, Any]:
    row = settings_area.setting_update(
        actor=request.user, key=key, value=payload.value, reason=payload.reason
    )
    return _setting(row)


@router.post("/{key}/reset", response=SettingOut, summary="Reset a setting to its default")
def setting_reset(request: HttpRequest, key: str, payload: ResetIn) -> dict[str, Any]:
    return _setting(settings_area.setting_reset(actor=request.user, key=key, reason=payload.reason))


@router.get("/{key}/history", response=SettingChangesOut, summary="Changes of one setting")
def setting_key_history(
    request: HttpRequest, key: str, query: Query[HistoryQuery]
) -> dict[str, Any]:
    return _changes(settings_area.setting_history(user=request.user, key=key), query)
