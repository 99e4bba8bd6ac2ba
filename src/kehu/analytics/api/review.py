"""``/api/v1/reviews/{department_id}/{quarter}``: the quarterly review as JSON, XLSX or PDF.

``quarter`` is written ``2026Q4``; the review compares it with the quarter before it. A
department outside the caller's scope answers 404, a role without reviews 403, a quarter that
is not one 422, a PDF without a CJK font on the server 503 (``pdf_font_missing``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema

from kehu.accounts.http import AuthedRequest
from kehu.analytics import exports, pdf
from kehu.analytics.api.reports import ReportOut
from kehu.analytics.selectors.review import QuarterlyReview, parse_quarter, quarterly_review
from kehu.core.numbers import Id

router = Router(tags=["reports"])


class ReviewQuery(Schema):
    industry: str = Field("", description="Industry code, e.g. C (manufacturing)")
    region: str = Field("", description="Region code, or an area: north, east, south, …")


class ReviewDepartment(Schema):
    id: int | None
    name: str


class ReviewOut(ReportOut):
    quarter: str
    previous_quarter: str
    department: ReviewDepartment
    previous_filters: dict[str, str]
    left_out: list[str]


def _review(
    request: AuthedRequest, department_id: int, quarter: str, query: ReviewQuery
) -> QuarterlyReview:
    return quarterly_review(
        user=request.user,
        department_id=department_id,
        quarter=parse_quarter(quarter),
        params={"industry": query.industry, "region": query.region},
    )


def _attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.get(
    "/{department_id}/{quarter}", response=ReviewOut, summary="A department's quarterly review"
)
def review_detail(
    request: AuthedRequest, department_id: Id, quarter: str, query: Query[ReviewQuery]
) -> dict[str, Any]:
    return _review(request, department_id, quarter, query).as_dict()


@router.get("/{department_id}/{quarter}/xlsx", summary="The quarterly review's XLSX pack")
def review_xlsx(
    request: AuthedRequest, department_id: Id, quarter: str, query: Query[ReviewQuery]
) -> HttpResponse:
    review = _review(request, department_id, quarter, query)
    content = exports.reports_workbook(review.pack())
    filename = f"kehu-review-{department_id}-{review.quarter}.xlsx"
    return _attachment(content, exports.XLSX_TYPE, filename)


@router.get("/{department_id}/{quarter}/pdf", summary="The quarterly review's PDF pack")
def review_pdf(
    request: AuthedRequest, department_id: Id, quarter: str, query: Query[ReviewQuery]
) -> HttpResponse:
    review = _review(request, department_id, quarter, query)
    content = pdf.reports_pdf(review.pack(), title=review.title)
    return _attachment(content, pdf.PDF_TYPE, f"kehu-review-{department_id}-{review.quarter}.pdf")
