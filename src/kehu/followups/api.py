"""/api/v1/followups and /api/v1/tasks: thin; the rules live in services and selectors."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.http import HttpResponse
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core.api import prevalidated_json
from kehu.core.errors import InvalidInput, NotFound
from kehu.core.numbers import MAX_INT
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut
from kehu.customers.models import Customer
from kehu.followups import selectors, services

router = Router(tags=["followups"])


# --- schemas -----------------------------------------------------------------------------------


class FollowUpAttachmentOut(Schema):
    id: int
    name: str
    size: int
    content_type: str


class FollowUpOut(Schema):
    id: int
    customer_id: int
    contact_id: int | None
    related_type: str | None
    related_id: int | None
    author_id: int
    occurred_at: datetime
    method: str
    content: str
    sentiment: str
    sentiment_reason: str
    renewal_intent: str
    next_step_on: date | None
    next_step_action: str
    next_step_owner_id: int | None
    verified: bool
    recorded_late: bool
    created_at: datetime
    version: int
    attachments: list[FollowUpAttachmentOut]

    @staticmethod
    def resolve_related_type(obj: Any) -> str | None:
        return (
            f"{obj.related_type.app_label}.{obj.related_type.model}"
            if obj.related_type_id
            else None
        )

    @staticmethod
    def resolve_attachments(obj: Any) -> list[Any]:
        return list(obj.attachments.all())


class FollowUpPage(BoundedPageOut):
    items: list[FollowUpOut]


FOLLOWUP_FIELDS = tuple(FollowUpOut.model_fields)


class FollowUpIn(Schema):
    customer_id: int
    occurred_at: datetime | None = None
    method: str
    content: str
    sentiment: str = "neutral"
    sentiment_reason: str = ""
    renewal_intent: str = ""
    contact_id: int | None = None
    related_type: str | None = None  # "app_label.model", e.g. "leads.lead"
    related_id: int | None = None
    next_step_on: date | None = None
    next_step_action: str = ""
    next_step_owner_id: int | None = None
    verified: bool = False


class TaskOut(Schema):
    id: int
    title: str
    description: str
    kind: str
    assignee_id: int
    created_by_id: int | None
    customer_id: int | None
    related_type: str | None
    related_id: int | None
    followup_id: int | None
    due_at: datetime
    priority: str
    status: str
    snoozed_until: datetime | None
    completed_at: datetime | None
    escalated_at: datetime | None
    is_overdue: bool
    version: int

    @staticmethod
    def resolve_related_type(obj: Any) -> str | None:
        return (
            f"{obj.related_type.app_label}.{obj.related_type.model}"
            if obj.related_type_id
            else None
        )


class TaskPage(BoundedPageOut):
    items: list[TaskOut]


TASK_FIELDS = tuple(TaskOut.model_fields)


class TaskIn(Schema):
    title: str
    due_at: datetime
    assignee_id: int | None = None
    customer_id: int | None = None
    related_type: str | None = None
    related_id: int | None = None
    priority: str = "normal"
    description: str = ""


class TaskPatch(Schema):
    version: int
    title: str | None = None
    description: str | None = None
    due_at: datetime | None = None
    priority: str | None = None
    assignee_id: int | None = None


class VersionIn(Schema):
    version: int | None = None


class CancelIn(VersionIn):
    reason: str = ""


class SnoozeIn(VersionIn):
    until: datetime


# --- helpers -----------------------------------------------------------------------------------


def _customer(user: User, customer_id: int | None) -> Customer | None:
    if customer_id is None:
        return None
    customer = Customer.objects.visible_to(user).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("customer")
    return customer


def _related(user: User, label: str | None, object_id: int | None) -> Any:
    """Resolve a generic link; the linked record must be visible to the user when scoped."""
    if not label and object_id is None:
        return None
    app_label, _dot, model = (label or "").lower().partition(".")
    content_type = ContentType.objects.filter(app_label=app_label, model=model).first()
    if content_type is None or object_id is None:
        raise InvalidInput("related", errors={"related_type": ["Unknown linked record type."]})
    model_class = content_type.model_class()
    assert model_class is not None
    manager: Any = model_class._default_manager
    rows = manager.visible_to(user) if hasattr(manager, "visible_to") else manager.all()
    row = rows.filter(pk=object_id).first()
    if row is None:
        raise NotFound("related")
    return row


# --- follow-ups --------------------------------------------------------------------------------


@router.get("/followups", response=FollowUpPage, summary="List follow-up records")
def list_followups(
    request: AuthedRequest,
    filters: Query[selectors.FollowUpFilters],
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> HttpResponse:
    page = selectors.followup_rows(
        user=request.user,
        filters=filters,
        fields=FOLLOWUP_FIELDS,
        offset=offset,
        limit=limit,
    )
    return prevalidated_json(request, page)


@router.post("/followups", response={201: FollowUpOut}, summary="Log a follow-up")
def create_followup(request: AuthedRequest, payload: FollowUpIn) -> Status[Any]:
    user = request.user
    customer = _customer(user, payload.customer_id)
    assert customer is not None
    data = payload.dict(
        exclude={"customer_id", "related_type", "related_id", "contact_id", "next_step_owner_id"}
    )
    data["contact"] = payload.contact_id
    data["next_step_owner"] = payload.next_step_owner_id
    data["related"] = _related(user, payload.related_type, payload.related_id)
    if payload.occurred_at is None:
        data.pop("occurred_at")
    followup = services.followup_create(actor=user, customer=customer, data=data)
    return Status(201, selectors.followup_get(user=user, followup_id=followup.pk))


@router.post(
    "/followups/with-attachments",
    response={201: FollowUpOut},
    summary="Log a follow-up with attachments (multipart form)",
)
def create_followup_multipart(
    request: AuthedRequest,
    payload: Form[FollowUpIn],
    attachments: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> Status[Any]:
    user = request.user
    customer = _customer(user, payload.customer_id)
    assert customer is not None
    data = payload.dict(
        exclude={"customer_id", "related_type", "related_id", "contact_id", "next_step_owner_id"}
    )
    data["contact"] = payload.contact_id
    data["next_step_owner"] = payload.next_step_owner_id
    data["related"] = _related(user, payload.related_type, payload.related_id)
    data["attachments"] = list(attachments or [])
    if payload.occurred_at is None:
        data.pop("occurred_at")
    followup = services.followup_create(actor=user, customer=customer, data=data)
    return Status(201, selectors.followup_get(user=user, followup_id=followup.pk))


@router.get("/followups/{followup_id}", response=FollowUpOut)
def get_followup(request: AuthedRequest, followup_id: int) -> Any:
    return selectors.followup_get(user=request.user, followup_id=followup_id)


# --- tasks -------------------------------------------------------------------------------------


@router.get("/tasks", response=TaskPage, summary="List tasks")
def list_tasks(
    request: AuthedRequest,
    filters: Query[selectors.TaskFilters],
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> HttpResponse:
    page = selectors.task_rows(
        user=request.user,
        filters=filters,
        fields=TASK_FIELDS,
        offset=offset,
        limit=limit,
    )
    return prevalidated_json(request, page)


@router.post("/tasks", response={201: TaskOut}, summary="Create a task")
def create_task(request: AuthedRequest, payload: TaskIn) -> Status[Any]:
    user = request.user
    assignee = user
    if payload.assignee_id is not None and payload.assignee_id != user.pk:
        found = User.objects.filter(pk=payload.assignee_id, is_active=True).first()
        if found is None:
            raise InvalidInput("assignee", errors={"assignee_id": ["Choose an active user."]})
        assignee = found
    task = services.task_create(
        actor=user,
        assignee=assignee,
        title=payload.title,
        due_at=payload.due_at,
        customer=_customer(user, payload.customer_id),
        related=_related(user, payload.related_type, payload.related_id),
        priority=payload.priority,
        description=payload.description,
    )
    return Status(201, task)


@router.get("/tasks/{task_id}", response=TaskOut)
def get_task(request: AuthedRequest, task_id: int) -> Any:
    return selectors.task_get(user=request.user, task_id=task_id)


@router.patch("/tasks/{task_id}", response=TaskOut)
def update_task(request: AuthedRequest, task_id: int, payload: TaskPatch) -> Any:
    changes = payload.dict(exclude_unset=True, exclude={"version"})
    if "assignee_id" in changes:
        changes["assignee"] = changes.pop("assignee_id")
    return services.task_update(
        actor=request.user, task_id=task_id, changes=changes, version=payload.version
    )


@router.post("/tasks/{task_id}/complete", response=TaskOut)
def complete_task(request: AuthedRequest, task_id: int, payload: VersionIn) -> Any:
    return services.task_complete(actor=request.user, task_id=task_id, version=payload.version)


@router.post("/tasks/{task_id}/cancel", response=TaskOut)
def cancel_task(request: AuthedRequest, task_id: int, payload: CancelIn) -> Any:
    return services.task_cancel(
        actor=request.user, task_id=task_id, reason=payload.reason, version=payload.version
    )


@router.post("/tasks/{task_id}/snooze", response=TaskOut)
def snooze_task(request: AuthedRequest, task_id: int, payload: SnoozeIn) -> Any:
    return services.task_snooze(
        actor=request.user, task_id=task_id, until=payload.until, version=payload.version
    )
