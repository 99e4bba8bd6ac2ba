"""The quarterly review page (季度复盘) and its XLSX and PDF packs."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from kehu.accounts.http import AuthedRequest
from kehu.analytics import exports, pdf
from kehu.analytics.selectors.filters import filter_choices
from kehu.analytics.selectors.review import (
    Quarter,
    QuarterlyReview,
    parse_quarter,
    quarterly_review,
    review_department,
)
from kehu.analytics.views.reports import page_data
from kehu.core.errors import InvalidInput, KehuError
from kehu.core.http import error_message, raise_refusal


def _review(request: AuthedRequest) -> QuarterlyReview:
    """The review asked for. An input error (a quarter, department id, industry or region that
    is not one) is shown and left out: the current quarter, the viewer's own department, no
    narrowing. A department outside the scope is the 404 page, a role without reviews the 403.
    """
    user = request.user
    try:
        department_id = review_department(user, request.GET.get("department"))
    except InvalidInput as error:
        messages.error(request, error_message(error))
        department_id = review_department(user, "")
    except KehuError as error:
        raise_refusal(error)
        raise
    try:
        quarter = parse_quarter(request.GET.get("quarter"))
    except InvalidInput as error:
        messages.error(request, error_message(error))
        quarter = parse_quarter("")
    narrowing = {key: request.GET.get(key, "") for key in ("industry", "region")}
    for attempt in (narrowing, {}):
        try:
            return quarterly_review(
                user=user, department_id=department_id, quarter=quarter, params=attempt
            )
        except InvalidInput as error:
            messages.error(request, error_message(error))
        except KehuError as error:
            raise_refusal(error)
            raise
    raise AssertionError("a review without narrowing takes no input")  # pragma: no cover


def review_params(review: QuarterlyReview) -> dict[str, str]:
    params = {"quarter": str(review.quarter)}
    if review.department_id is not None:
        params["department"] = str(review.department_id)
    for key in ("industry", "region"):  # the packs keep a narrowed review's filters
        value = getattr(review.filters, key)
        if value:
            params[key] = value
    return params


def _filename(review: QuarterlyReview, extension: str) -> str:
    department = review.department_id if review.department_id is not None else "all"
    return f"kehu-review-{department}-{review.quarter}.{extension}"


def attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def review_page(request: AuthedRequest) -> HttpResponse:
    review = _review(request)
    query = urlencode(review_params(review))
    current = Quarter.of(review.filters.start)
    context: dict[str, Any] = {
        "review": review,
        "data": page_data(review.overview()),
        "reports": [page_data(report) for report in review.reports],
        "departments": filter_choices(request.user)["departments"],
        "quarters": [str(current.previous()), str(current), str(current.next())],
        "report_query": urlencode(review.filters.as_params()),
        "xlsx_url": f"{reverse('analytics:review_export')}?{query}",
        "pdf_url": f"{reverse('analytics:review_pdf')}?{query}",
    }
    return render(request, "analytics/review/page.html", context)


@login_required
def review_export(request: AuthedRequest) -> HttpResponse:
    review = _review(request)
    content = exports.reports_workbook(review.pack())
    return attachment(content, exports.XLSX_TYPE, _filename(review, "xlsx"))


@login_required
def review_pdf(request: AuthedRequest) -> HttpResponse:
    review = _review(request)
    try:
        content = pdf.reports_pdf(review.pack(), title=review.title)
    except pdf.PdfFontMissing as error:
        messages.error(request, error_message(error))
        return redirect(f"{reverse('analytics:review')}?{urlencode(review_params(review))}")
    return attachment(content, pdf.PDF_TYPE, _filename(review, "pdf"))


urlpatterns: list[URLPattern] = [
    path("review/", review_page, name="review"),
    path("review/export.xlsx", review_export, name="review_export"),
    path("review/export.pdf", review_pdf, name="review_pdf"),
]
