"""The reports index and each report's page (ECharts and tables) and XLSX download."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from kehu.accounts.http import AuthedRequest
from kehu.analytics import exports, registry
from kehu.analytics.reporting import Report, ReportFilters, default_period, parse_filters
from kehu.analytics.selectors.filters import filter_choices
from kehu.core.errors import KehuError, NotFound
from kehu.core.http import error_message, raise_not_found


def report_filters(request: AuthedRequest) -> ReportFilters:
    """The filters asked for; on a bad value, the default period with the problem shown.

    A department or rep outside the viewer's scope is the 404 page, as in the API.
    """
    try:
        return parse_filters(user=request.user, params=request.GET)
    except KehuError as error:
        raise_not_found(error)  # a NotFound is the 404 page; only input errors fall back
        messages.error(request, error_message(error))
        return ReportFilters(*default_period())


def _report(request: AuthedRequest, key: str) -> Report:
    try:
        spec = registry.report_spec(request.user, key)
    except NotFound as error:
        raise_not_found(error)
        raise
    return spec.build(request.user, report_filters(request))


def page_data(report: Report) -> dict[str, Any]:
    """``Report.as_dict`` as the templates read it: each chart with the id of its JSON, each
    table's rows as cells in column order."""
    data = report.as_dict()
    for chart in data["charts"]:
        chart["json_id"] = f"chart-{data['key']}-{chart['key']}"
    for table in data["tables"]:
        table["cells"] = [
            [
                {"key": column["key"], "value": row.get(column["key"]), "kind": column["kind"]}
                for column in table["columns"]
            ]
            for row in table["rows"]
        ]
    return data


def export_url(key: str, filters: ReportFilters) -> str:
    return f"{reverse('analytics:report_export', args=[key])}?{urlencode(filters.as_params())}"


def filter_context(request: AuthedRequest, filters: ReportFilters) -> dict[str, Any]:
    return {"filters": filters, "choices": filter_choices(request.user)}


@login_required
def report_index(request: AuthedRequest) -> HttpResponse:
    return render(request, "analytics/index.html", {"reports": registry.reports_for(request.user)})


@login_required
def report_page(request: AuthedRequest, key: str) -> HttpResponse:
    report = _report(request, key)
    spec = registry.report_spec(request.user, key)
    context = {
        "report": report,
        "data": page_data(report),
        "spec": spec,
        "export_url": export_url(key, report.filters),
        **filter_context(request, report.filters),
    }
    return render(request, spec.template or "analytics/report.html", context)


@login_required
def report_export(request: AuthedRequest, key: str) -> HttpResponse:
    report = _report(request, key)
    response = HttpResponse(exports.reports_workbook([report]), content_type=exports.XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(report)}"'
    return response


urlpatterns: list[URLPattern] = [
    path("", report_index, name="reports"),
    path("reports/<slug:key>/", report_page, name="report"),
    path("reports/<slug:key>/export.xlsx", report_export, name="report_export"),
]
