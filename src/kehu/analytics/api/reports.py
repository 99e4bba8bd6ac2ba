"""``/api/v1/reports``: the index of reports and each report as JSON or XLSX.

Every report takes the same filters (``reporting.parse_filters``): ``from`` and ``to``
(YYYY-MM-DD, default the current quarter to date, at most five years), ``department`` (with
the departments below it), ``owner`` (a rep), ``industry`` (a code; its sub-codes match) and
``region`` (a province or city code, or an area such as ``east``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema

from kehu.accounts.http import AuthedRequest
from kehu.analytics import exports, registry
from kehu.analytics.reporting import Report, parse_filters

router = Router(tags=["reports"])


class ReportQuery(Schema):
    start: str = Field("", alias="from", description="First day, YYYY-MM-DD")
    end: str = Field("", alias="to", description="Last day, YYYY-MM-DD")
    department: str = Field("", description="Department id (with the ones below it)")
    owner: str = Field("", description="User id of a rep")
    industry: str = Field("", description="Industry code, e.g. C (manufacturing)")
    region: str = Field("", description="Region code, or an area: north, east, south, …")

    def params(self) -> dict[str, str]:
        return {
            "from": self.start,
            "to": self.end,
            "department": self.department,
            "owner": self.owner,
            "industry": self.industry,
            "region": self.region,
        }


class ReportIndexEntry(Schema):
    key: str
    title: str
    description: str


class SummaryItem(Schema):
    key: str
    label: str
    value: Any = None
    kind: str


class ColumnOut(Schema):
    key: str
    label: str
    kind: str


class TableOut(Schema):
    key: str
    title: str
    note: str
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]


class ChartOut(Schema):
    key: str
    title: str
    categories: list[str]
    categoryKind: str  # noqa: N815 (the chart script's name)
    unit: str
    series: list[dict[str, Any]]


class ReportOut(Schema):
    key: str
    title: str
    filters: dict[str, str]
    summary: list[SummaryItem]
    tables: list[TableOut]
    charts: list[ChartOut]
    amounts_masked: bool


def build_report(request: AuthedRequest, key: str, query: ReportQuery) -> Report:
    spec = registry.report_spec(request.user, key)
    filters = parse_filters(user=request.user, params=query.params())
    return spec.build(request.user, filters)


@router.get("", response=list[ReportIndexEntry], summary="The reports you may open")
def report_index(request: AuthedRequest) -> list[dict[str, str]]:
    return [
        {"key": spec.key, "title": str(spec.title), "description": str(spec.description)}
        for spec in registry.reports_for(request.user)
    ]


@router.get("/{key}", response=ReportOut, summary="One report, in your scope")
def report_detail(request: AuthedRequest, key: str, query: Query[ReportQuery]) -> dict[str, Any]:
    return build_report(request, key, query).as_dict()


@router.get("/{key}/export", summary="One report as an XLSX workbook")
def report_export(request: AuthedRequest, key: str, query: Query[ReportQuery]) -> HttpResponse:
    report = build_report(request, key, query)
    response = HttpResponse(exports.reports_workbook([report]), content_type=exports.XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(report)}"'
    return response
