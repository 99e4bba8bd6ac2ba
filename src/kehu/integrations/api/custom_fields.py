"""API of custom fields (自定义字段): every user lists the fields they see of a kind (to know
the keys the records' ``custom`` objects take); administrators define, change, delete and
restore them (docs/custom-fields.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.core import custom_fields as core_fields
from kehu.core.numbers import Id
from kehu.integrations.models import CustomField
from kehu.integrations.services import custom_fields as services

router = Router(tags=["custom fields"])

Kind = Literal["customer", "contact", "lead", "opportunity", "ticket"]
Type = Literal[
    "text",
    "long_text",
    "number",
    "money",
    "date",
    "choice",
    "multi_choice",
    "yes_no",
    "user",
    "url",
]


class CustomFieldOut(Schema):
    id: int
    kind: str
    key: str
    label: str
    label_zh: str
    label_en: str
    type: str
    required: bool
    help: str
    order: int
    choices: list[str]
    see_roles: list[str]
    edit_roles: list[str]
    sensitive: bool
    filterable: bool
    editable: bool = Field(description="Whether the caller may set its values.")
    deleted_at: datetime | None
    version: int


class CustomFieldIn(Schema):
    kind: Kind
    key: str = Field(..., max_length=40, description="a-z, 0-9 and _, starting with a letter")
    label_zh: str = Field(..., max_length=100)
    label_en: str = Field("", max_length=100)
    type: Type
    required: bool = False
    help: str = Field("", max_length=300)
    order: int = Field(0, ge=0, le=32767)
    choices: list[str] = []
    see_roles: list[str] = Field([], description="Empty: every role.")
    edit_roles: list[str] = Field([], description="Empty: every role that edits the record.")
    sensitive: bool = False
    filterable: bool = False


class CustomFieldPatch(Schema):
    version: int
    key: str | None = Field(None, max_length=40)
    label_zh: str | None = Field(None, max_length=100)
    label_en: str | None = Field(None, max_length=100)
    type: Type | None = None
    required: bool | None = None
    help: str | None = Field(None, max_length=300)
    order: int | None = Field(None, ge=0, le=32767)
    choices: list[str] | None = None
    see_roles: list[str] | None = None
    edit_roles: list[str] | None = None
    sensitive: bool | None = None
    filterable: bool | None = None


def _out(field: CustomField, user: Any) -> dict[str, Any]:
    spec = field.spec()
    data = {
        name: getattr(field, name)
        for name in CustomFieldOut.model_fields
        if name not in {"label", "editable"}
    }
    data.update(label=spec.label, editable=spec.editable_by(user))
    return data


@router.get("/custom-fields", response=list[CustomFieldOut], summary="Custom fields of a kind")
def list_custom_fields(
    request: AuthedRequest,
    kind: Kind,
    deleted: bool = False,
) -> list[dict[str, Any]]:
    """The active fields of ``kind`` the caller sees; ``deleted``: the restorable deleted
    ones instead (administrators)."""
    user = request.user
    if deleted:
        return [_out(field, user) for field in services.deleted_fields(user=user, kind=kind)]
    visible = {spec.key for spec in core_fields.fields_for(kind, user)}
    fields = CustomField.objects.filter(kind=kind, deleted_at__isnull=True, key__in=visible)
    return [_out(field, user) for field in fields.order_by("order", "key")]


@router.post("/custom-fields", response={201: CustomFieldOut}, summary="Define a custom field")
def create_custom_field(request: AuthedRequest, payload: CustomFieldIn) -> Status[Any]:
    field = services.custom_field_create(actor=request.user, data=payload.dict())
    return Status(201, _out(field, request.user))


@router.get("/custom-fields/{field_id}", response=CustomFieldOut)
def get_custom_field(request: AuthedRequest, field_id: Id) -> dict[str, Any]:
    return _out(services.custom_field_get(user=request.user, field_id=field_id), request.user)


@router.patch("/custom-fields/{field_id}", response=CustomFieldOut)
def update_custom_field(
    request: AuthedRequest, field_id: Id, payload: CustomFieldPatch
) -> dict[str, Any]:
    field = services.custom_field_get(user=request.user, field_id=field_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    data = {key: value for key, value in data.items() if value is not None}
    changed = services.custom_field_update(
        actor=request.user, field=field, changes=data, version=version
    )
    return _out(changed, request.user)


@router.delete("/custom-fields/{field_id}", response=CustomFieldOut)
def delete_custom_field(request: AuthedRequest, field_id: Id) -> dict[str, Any]:
    """Soft delete: restorable for 30 days (``POST /custom-fields/{id}/restore``)."""
    field = services.custom_field_get(user=request.user, field_id=field_id)
    return _out(services.custom_field_delete(actor=request.user, field=field), request.user)


@router.post("/custom-fields/{field_id}/restore", response=CustomFieldOut)
def restore_custom_field(request: AuthedRequest, field_id: Id) -> dict[str, Any]:
    field = services.custom_field_get(user=request.user, field_id=field_id)
    return _out(services.custom_field_restore(actor=request.user, field=field), request.user)
