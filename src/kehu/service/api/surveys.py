"""/api/v1/surveys: the staff list of satisfaction surveys, in the scope of their tickets.

The customer answers on the public page (/service/survey/<token>/), not through the API.
"""

from datetime import datetime
from typing import Any

from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from kehu.accounts.http import AuthedRequest
from kehu.core.numbers import Id
from kehu.core.pagination import MappedRows
from kehu.service.models import Survey
from kehu.service.selectors import surveys as selectors

router = Router(tags=["service"])


class SurveyOut(Schema):
    id: int
    ticket_id: int
    ticket_number: str
    customer_id: int | None
    customer_name: str
    sent_to: str
    sent_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    score: int | None
    comment: str


class SurveyFilters(Schema):
    ticket_id: Id | None = None
    customer_id: Id | None = None
    answered: bool | None = None
    score: int | None = Field(None, ge=1, le=5)


def survey_out(survey: Survey) -> dict[str, Any]:
    return {
        "id": survey.pk,
        "ticket_id": survey.ticket_id,
        "ticket_number": survey.ticket.number,
        "customer_id": survey.customer_id,
        "customer_name": survey.customer.name if survey.customer is not None else "",
        "sent_to": survey.sent_to,
        "sent_at": survey.sent_at,
        "expires_at": survey.expires_at,
        "answered_at": survey.answered_at,
        "score": survey.score,
        "comment": survey.comment,
    }


@router.get("/surveys", response=list[SurveyOut], summary="Satisfaction surveys in your scope")
@paginate
def list_surveys(request: AuthedRequest, filters: Query[SurveyFilters]) -> list[dict[str, Any]]:
    surveys = selectors.survey_list(user=request.user, **filters.dict())
    return MappedRows(surveys, survey_out)  # type: ignore[return-value]


@router.get("/surveys/{survey_id}", response=SurveyOut, summary="One satisfaction survey")
def get_survey(request: AuthedRequest, survey_id: Id) -> dict[str, Any]:
    return survey_out(selectors.survey_get(user=request.user, survey_id=survey_id))
