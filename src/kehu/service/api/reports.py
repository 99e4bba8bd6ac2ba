"""/api/v1/reports/service/...: the feedback analysis of the tickets the user sees.

Each takes ``from`` and ``to`` (days, YYYY-MM-DD, both included; default the last 90 days);
a date that is not one, or an end before the start, answers 422.
"""

from typing import Any

from ninja import Field, Query, Router, Schema

from kehu.accounts.http import AuthedRequest
from kehu.service.selectors import reports as selectors
from kehu.service.selectors.reports import Period

router = Router(tags=["service"])


class PeriodQuery(Schema):
    start: str = Field(
        "", alias="from", description="First day, YYYY-MM-DD (default: 89 days before the end)"
    )
    end: str = Field("", alias="to", description="Last day, YYYY-MM-DD (default: today)")

    def period(self) -> Period:
        return selectors.report_period(
            selectors.parse_day(self.start, "from"), selectors.parse_day(self.end, "to")
        )


class KeywordQuery(PeriodQuery):
    top: int = Field(selectors.KEYWORD_TOP, ge=1, le=100)


@router.get("/problems", summary="Frequent problems by type and by product")
def report_problems(request: AuthedRequest, query: Query[PeriodQuery]) -> dict[str, Any]:
    return selectors.problems_report(user=request.user, period=query.period())


@router.get(
    "/keywords",
    summary="Top keywords of ticket subjects and contents (jieba), over the newest tickets",
)
def report_keywords(request: AuthedRequest, query: Query[KeywordQuery]) -> dict[str, Any]:
    return selectors.keywords_report(user=request.user, period=query.period(), top=query.top)


@router.get("/sla", summary="SLA attainment (response and resolution met) by priority")
def report_sla(request: AuthedRequest, query: Query[PeriodQuery]) -> dict[str, Any]:
    return selectors.sla_report(user=request.user, period=query.period())


@router.get("/times", summary="First-response and resolution times per team and per agent")
def report_times(request: AuthedRequest, query: Query[PeriodQuery]) -> dict[str, Any]:
    return selectors.times_report(user=request.user, period=query.period())


@router.get("/satisfaction", summary="Satisfaction trend by month: average, count, 1–5")
def report_satisfaction(request: AuthedRequest, query: Query[PeriodQuery]) -> dict[str, Any]:
    return selectors.satisfaction_report(user=request.user, period=query.period())
