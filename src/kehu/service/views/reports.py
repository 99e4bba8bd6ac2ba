"""The service analysis page: frequent problems, keywords, SLA attainment, handling times and
the satisfaction trend, as ECharts charts (``kehu/dashboard.js``) and tables."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from kehu.accounts.http import AuthedRequest
from kehu.core.errors import KehuError
from kehu.core.http import error_message
from kehu.service.selectors import reports as selectors
from kehu.service.selectors.reports import Period


def _period(request: AuthedRequest) -> Period:
    """The period asked for, or the default one with the problem shown."""
    try:
        start = selectors.parse_day(request.GET.get("from"), "from")
        end = selectors.parse_day(request.GET.get("to"), "to")
        return selectors.report_period(start, end)
    except KehuError as error:
        messages.error(request, error_message(error))
        return selectors.report_period()


def _bar(categories: list[str], series: list[dict[str, Any]], kind: str = "") -> dict[str, Any]:
    return {"categories": categories, "categoryKind": kind, "unit": "", "series": series}


@login_required
def service_analysis(request: AuthedRequest) -> HttpResponse:
    period = _period(request)
    user = request.user
    problems = selectors.problems_report(user=user, period=period)
    keywords = selectors.keywords_report(user=user, period=period)
    sla = selectors.sla_report(user=user, period=period)
    times = selectors.times_report(user=user, period=period)
    satisfaction = selectors.satisfaction_report(user=user, period=period)
    charts = {
        "types": _bar(
            [row["label"] for row in problems["by_type"]],
            [
                {
                    "name": pgettext("count", "Tickets"),
                    "type": "bar",
                    "data": [r["count"] for r in problems["by_type"]],
                }
            ],
        ),
        "products": _bar(
            [row["label"] for row in problems["by_product"]],
            [
                {
                    "name": pgettext("count", "Tickets"),
                    "type": "bar",
                    "data": [r["count"] for r in problems["by_product"]],
                }
            ],
        ),
        "keywords": _bar(
            [row["word"] for row in keywords["keywords"]],
            [
                {
                    "name": pgettext("count", "Tickets"),
                    "type": "bar",
                    "data": [r["tickets"] for r in keywords["keywords"]],
                }
            ],
        ),
        "sla": _bar(
            [row["label"] for row in sla["by_priority"]],
            [
                {
                    "name": _("Response met %"),
                    "type": "bar",
                    "data": [r["response_met_pct"] for r in sla["by_priority"]],
                },
                {
                    "name": _("Resolution met %"),
                    "type": "bar",
                    "data": [r["resolution_met_pct"] for r in sla["by_priority"]],
                },
            ],
        ),
        "satisfaction": _bar(
            [row["month"] for row in satisfaction["months"]],
            [
                *[
                    {
                        "name": str(score),
                        "type": "bar",
                        "stack": "answers",
                        "data": [r["distribution"][str(score)] for r in satisfaction["months"]],
                    }
                    for score in range(1, 6)
                ],
                {
                    "name": _("Average score"),
                    "type": "line",
                    "axis": 1,
                    "data": [r["average"] for r in satisfaction["months"]],
                },
            ],
            kind="month",
        ),
    }
    context = {
        "period": period,
        "problems": problems,
        "keywords": keywords,
        "sla": sla,
        "times": times,
        "satisfaction": satisfaction,
        "charts": charts,
    }
    return render(request, "service/reports/analysis.html", context)


urlpatterns: list[URLPattern] = [
    path("reports/", service_analysis, name="reports"),
]
