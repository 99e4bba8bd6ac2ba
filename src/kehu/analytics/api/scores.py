"""/api/v1/scores: a customer's churn-risk and value scores with their reasons, and the
actions the churn-risk and high-value lists feed (a retention task, a one-to-one plan owner).

The lists themselves are the reports ``/api/v1/reports/churn-risk`` and ``.../high-value``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.analytics.selectors import scores as selectors
from kehu.analytics.services import scores as services
from kehu.core.numbers import Id

router = Router(tags=["reports"])


class ReasonOut(Schema):
    code: str
    text: str
    params: dict[str, Any]


class ScoreOut(Schema):
    customer_id: int
    customer: str
    scored: bool
    churn_score: int | None
    is_churn_risk: bool
    churn_reasons: list[ReasonOut]
    churn_text: str
    value_score: int | None
    is_high_value: bool
    value_reasons: list[ReasonOut]
    value_text: str
    won_amount_year: float | None
    orders_year: int
    average_order: float | None
    last_activity_at: datetime | None
    plan_owner_id: int | None
    computed_at: datetime | None


class RetentionIn(Schema):
    kind: str  # senior_revisit | offer_review
    due_on: date | None = None
    note: str = ""


class TaskRef(Schema):
    id: int
    title: str
    kind: str
    assignee_id: int
    due_at: datetime


class PlanOwnerIn(Schema):
    user_id: Id


def _reasons(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "code": reason.get("code", ""),
            "text": selectors.reason_text(reason),
            "params": {k: v for k, v in reason.items() if k != "code"},
        }
        for reason in reasons
    ]


def score_out(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    out["churn_reasons"] = _reasons(entry["churn_reasons"])
    out["value_reasons"] = _reasons(entry["value_reasons"])
    return out


@router.get("/{customer_id}", response=ScoreOut, summary="A customer's scores and reasons")
def get_score(request: AuthedRequest, customer_id: Id) -> dict[str, Any]:
    return score_out(selectors.customer_score(request.user, customer_id))


@router.post(
    "/{customer_id}/retention-task",
    response={201: TaskRef},
    summary="Create a retention task (senior revisit or offer review) for the owner",
)
def create_retention_task(
    request: AuthedRequest, customer_id: Id, payload: RetentionIn
) -> Status[Any]:
    task = services.retention_task(
        actor=request.user,
        customer_id=customer_id,
        kind=payload.kind,
        due_on=payload.due_on,
        note=payload.note,
    )
    return Status(201, task)


@router.post(
    "/{customer_id}/plan-owner",
    response=ScoreOut,
    summary="Appoint the one-to-one plan owner of a (high-value) customer",
)
def set_plan_owner(request: AuthedRequest, customer_id: Id, payload: PlanOwnerIn) -> dict[str, Any]:
    services.assign_plan_owner(actor=request.user, customer_id=customer_id, user_id=payload.user_id)
    return score_out(selectors.customer_score(request.user, customer_id))
