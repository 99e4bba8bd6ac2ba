"""Pages of the campaigns app: results (复盘) of a campaign, the comparison across campaigns,
and their XLSX. Thin: the figures come from ``selectors.results``; out of scope is 404."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import Department
from kehu.campaigns import results_xlsx
from kehu.campaigns.models import CampaignKind
from kehu.campaigns.selectors import results as selectors
from kehu.core import config
from kehu.core.access import is_admin, managed_department_ids
from kehu.core.errors import KehuError, NotFound
from kehu.core.formatting import money_unit_of
from kehu.core.http import error_message


def _url(name: str, *args: Any) -> str | None:
    """The page's URL, or None while the area that serves it is not merged."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _pct(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _roi_pct(value: Decimal | None) -> Decimal | None:
    return None if value is None else (value * 100).quantize(Decimal("0.1"))


def _results_charts(result: selectors.CampaignResults, user: Any) -> list[dict[str, Any]]:
    funnel = {
        "categories": [
            _("Members"),
            _("Reached"),
            _("Registered"),
            _("Attended"),
            _("Replied / interested"),
        ],
        "unit": "",
        "series": [
            {
                "name": _("Members"),
                "type": "bar",
                "data": [
                    result.members,
                    result.reached,
                    result.funnel["registered"],
                    result.funnel["attended"],
                    result.funnel["interested"],
                ],
            }
        ],
    }
    attribution = {
        "categories": [_("Leads"), _("Opportunities"), _("Won deals")],
        "unit": "",
        "series": [
            {
                "name": label,
                "type": "bar",
                "data": [model.leads, model.opportunities, model.won],
            }
            for label, model in ((_("First touch"), result.first), (_("Last touch"), result.last))
        ],
    }
    money = {
        "categories": [_("Cost"), _("Won (first touch)"), _("Won (last touch)")],
        "unit": money_unit_of(user),
        "series": [
            {
                "name": _("Amount"),
                "type": "bar",
                "money": True,
                "data": [
                    float(result.cost),
                    float(result.first.won_amount),
                    float(result.last.won_amount),
                ],
            }
        ],
    }
    return [
        _chart("funnel", _("Responses"), funnel),
        _chart("attribution", _("First touch vs last touch"), attribution),
        _chart("money", _("Cost and won amounts"), money),
    ]


def _chart(key: str, title: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "title": title, "json_id": f"results-chart-{key}", "spec": spec}


@login_required
def results_page(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    result = selectors.campaign_results(request.user, campaign_id)
    campaign = result.campaign
    context = {
        "campaign": campaign,
        "result": result,
        "roi_first": _roi_pct(result.first.roi),
        "roi_last": _roi_pct(result.last.roi),
        "charts": _results_charts(result, request.user),
        "lookback_days": config.get(selectors.LOOKBACK_DAYS.key),
        "list_url": _url("campaigns:list"),
        "detail_url": _url("campaigns:detail", campaign.pk),
        "compare_url": reverse("campaigns:compare"),
        "export_url": reverse("campaigns:results_export", args=[campaign.pk]),
    }
    return render(request, "campaigns/results/page.html", context)


@login_required
def results_export(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    result = selectors.campaign_results(request.user, campaign_id)
    days = int(config.get(selectors.LOOKBACK_DAYS.key))
    body = results_xlsx.results_workbook(result, lookback_days=days)
    response = HttpResponse(body, content_type=results_xlsx.XLSX_TYPE)
    filename = f"kehu-campaign-{result.campaign.pk}-results.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _filters(request: AuthedRequest) -> selectors.CompareFilters:
    """The comparison's filters; a bad value shows the message and no filter."""
    try:
        return selectors.parse_compare_filters(request.GET)
    except KehuError as error:
        messages.error(request, error_message(error))
        return selectors.CompareFilters()


def _department_choices(user: Any) -> list[tuple[int, str]]:
    rows = Department.objects.order_by("path")
    if not (is_admin(user) or getattr(user, "role", "") == "marketing"):
        rows = rows.filter(pk__in=managed_department_ids(user))
    return [(row.pk, str(row)) for row in rows]


def _compare_chart(results: list[selectors.CampaignResults], user: Any) -> list[dict[str, Any]]:
    names = [result.campaign.name for result in results]
    specs = {
        "money": {
            "categories": names,
            "unit": money_unit_of(user),
            "series": [
                {
                    "name": _("Cost"),
                    "type": "bar",
                    "money": True,
                    "data": [float(r.cost) for r in results],
                },
                {
                    "name": _("Won (last touch)"),
                    "type": "bar",
                    "money": True,
                    "data": [float(r.last.won_amount) for r in results],
                },
            ],
        },
        "counts": {
            "categories": names,
            "unit": "",
            "series": [
                {"name": _("Leads"), "type": "bar", "data": [r.leads for r in results]},
                {
                    "name": _("Opportunities (last touch)"),
                    "type": "bar",
                    "data": [r.last.opportunities for r in results],
                },
            ],
        },
    }
    return [
        _chart("compare-money", _("Cost and won amount (last touch)"), specs["money"]),
        _chart("compare-counts", _("Leads and opportunities"), specs["counts"]),
    ]


def _compared(request: AuthedRequest) -> tuple[selectors.CompareFilters, list[Any], bool]:
    if not selectors.may_see_results(request.user):
        raise NotFound("campaign results")
    filters = _filters(request)
    rows = selectors.compare_campaigns(request.user, filters)
    campaigns = list(rows[: selectors.COMPARE_MAX + 1])
    more = len(campaigns) > selectors.COMPARE_MAX
    campaigns = campaigns[: selectors.COMPARE_MAX]
    return filters, selectors.results_for(request.user, campaigns), more


@login_required
def compare_page(request: AuthedRequest) -> HttpResponse:
    filters, results, more = _compared(request)
    query = urlencode(filters.as_params())
    context = {
        "filters": filters,
        "results": [
            {"result": r, "roi": _roi_pct(r.last.roi), "roi_first": _roi_pct(r.first.roi)}
            for r in results
        ],
        "more": more,
        "limit": selectors.COMPARE_MAX,
        "charts": _compare_chart(results, request.user) if results else None,
        "kinds": CampaignKind.choices,
        "departments": _department_choices(request.user),
        "amounts_masked": any(r.amounts_masked for r in results),
        "export_url": reverse("campaigns:compare_export") + (f"?{query}" if query else ""),
        "list_url": _url("campaigns:list"),
        "lookback_days": config.get(selectors.LOOKBACK_DAYS.key),
    }
    return render(request, "campaigns/results/compare.html", context)


@login_required
def compare_export(request: AuthedRequest) -> HttpResponse:
    filters, results, _more = _compared(request)
    line = " · ".join(f"{key}={value}" for key, value in filters.as_params().items())
    body = results_xlsx.compare_workbook(results, filters_line=line)
    response = HttpResponse(body, content_type=results_xlsx.XLSX_TYPE)
    response["Content-Disposition"] = 'attachment; filename="kehu-campaign-comparison.xlsx"'
    return response


urlpatterns: list[URLPattern] = [
    path("campaigns/compare/", compare_page, name="compare"),
    path("campaigns/compare.xlsx", compare_export, name="compare_export"),
    path("campaigns/<int:campaign_id>/results/", results_page, name="results"),
    path("campaigns/<int:campaign_id>/results.xlsx", results_export, name="results_export"),
]
