"""The report foundation: the filters (422 and 404), the previous period, an empty period, and
the page, the API and the XLSX export saying the same numbers."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from kehu.analytics import exports, registry
from kehu.analytics.reporting import (
    ReportFilters,
    default_period,
    parse_filters,
    quarter_of,
    region_prefixes,
    share,
    too_long,
)
from kehu.analytics.tests.reporting_support import TEST_KEY, at, customer, registered, spec
from kehu.core.errors import InvalidInput, NotFound
from kehu.core.testing.factories import Organisation, api_client

pytestmark = pytest.mark.django_db

API = f"/api/v1/reports/{TEST_KEY}"


@pytest.fixture
def report_registered() -> Any:
    with registered(spec()):
        yield


def errors_of(raised: pytest.ExceptionInfo[InvalidInput]) -> dict[str, list[str]]:
    return raised.value.errors


# --- parse_filters -----------------------------------------------------------------------------


def test_default_period_is_the_quarter_to_date(org: Organisation) -> None:
    filters = parse_filters(user=org.rep, params={})
    today = timezone.localdate()
    assert (filters.start, filters.end) == (quarter_of(today)[0], today)
    assert default_period(date(2026, 11, 5)) == (date(2026, 10, 1), date(2026, 11, 5))
    only_end = parse_filters(user=org.rep, params={"to": "2026-05-20"})
    assert (only_end.start, only_end.end) == (date(2026, 4, 1), date(2026, 5, 20))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026/12/31"}, "to"),
        ({"from": "2026-12-01", "to": "2026-11-30"}, "to"),
        ({"from": "2020-01-01", "to": "2025-01-01"}, "to"),  # five years and a day
        ({"from": "2020-03-01", "to": "2099-12-31"}, "to"),
        ({"from": "9999-12-01", "to": "9999-12-31"}, "from"),  # beyond the calendar: not a 500
        ({"from": "0001-01-01", "to": "0001-03-31"}, "from"),
        ({"department": "east"}, "department"),
        ({"owner": "-3"}, "owner"),
        ({"industry": "ZZ"}, "industry"),
        ({"region": "atlantis"}, "region"),
        ({"region": "999900"}, "region"),
    ],
)
def test_bad_filters_are_422_naming_the_field(
    org: Organisation, params: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_filters(user=org.admin, params=params)
    assert field in errors_of(raised), errors_of(raised)


def test_five_years_is_the_longest_period(org: Organisation) -> None:
    filters = parse_filters(user=org.admin, params={"from": "2020-01-01", "to": "2024-12-31"})
    assert filters.days == 1827
    assert not too_long(date(2024, 2, 29), date(2029, 2, 27))
    assert too_long(date(2024, 2, 29), date(2029, 2, 28))


def test_known_industry_region_and_area_are_accepted(org: Organisation) -> None:
    filters = parse_filters(
        user=org.admin, params={"industry": "c", "region": "EAST", "from": "2026-01-01"}
    )
    assert (filters.industry, filters.region) == ("C", "east")
    assert "31" in region_prefixes("east")
    assert region_prefixes("310100") == ("3101",)
    assert parse_filters(user=org.admin, params={"region": "310000"}).region == "310000"


def test_department_and_rep_outside_the_scope_are_404(org: Organisation) -> None:
    # A manager answers for their department and the ones below it, and their reps.
    filters = parse_filters(user=org.east_manager, params={"department": str(org.shanghai.pk)})
    assert filters.department_path == org.shanghai.path
    assert parse_filters(user=org.east_manager, params={"owner": str(org.rep.pk)}).owner_id
    for params in (
        {"department": str(org.south.pk)},
        {"owner": str(org.south_rep.pk)},
        {"department": "999999"},
        {"department": "99999999999999999999999"},  # beyond any id: no such record, not a 500
    ):
        with pytest.raises(NotFound):
            parse_filters(user=org.east_manager, params=params)
    # A rep: their own department and themselves only.
    assert parse_filters(user=org.rep, params={"department": str(org.shanghai.pk)})
    assert parse_filters(user=org.rep, params={"owner": str(org.rep.pk)}).owner_id == org.rep.pk
    for params in ({"department": str(org.east.pk)}, {"owner": str(org.colleague.pk)}):
        with pytest.raises(NotFound):
            parse_filters(user=org.rep, params=params)
    # An admin: anyone.
    assert parse_filters(user=org.admin, params={"department": str(org.south.pk)})


def test_previous_period() -> None:
    quarter = ReportFilters(date(2026, 10, 1), date(2026, 12, 31), industry="C")
    previous = quarter.previous()
    assert (previous.start, previous.end, previous.industry) == (
        date(2026, 7, 1),
        date(2026, 9, 30),
        "C",
    )
    first = ReportFilters(date(2026, 1, 1), date(2026, 3, 31)).previous()
    assert (first.start, first.end) == (date(2025, 10, 1), date(2025, 12, 31))
    month = ReportFilters(date(2026, 3, 1), date(2026, 3, 31)).previous()
    assert (month.start, month.end) == (date(2026, 2, 1), date(2026, 2, 28))
    days = ReportFilters(date(2026, 3, 10), date(2026, 3, 19)).previous()
    assert (days.start, days.end) == (date(2026, 2, 28), date(2026, 3, 9))


def test_filter_helpers() -> None:
    filters = ReportFilters(date(2026, 1, 1), date(2026, 1, 31))
    assert filters.end_at - filters.start_at == timedelta(days=31)
    assert filters.as_params() == {"from": "2026-01-01", "to": "2026-01-31"}
    assert share(1, 3) == 33.3
    assert share(5, 0) is None


# --- the report through the API, the page and the XLSX -----------------------------------------


def made(org: Organisation) -> None:
    """Three customers of 上海组 (two of the rep, one of the colleague) and one of 华南区 this
    quarter; one of the rep last year."""
    customer(org.rep, industry_id="C", region_id="310000")
    customer(org.rep)
    customer(org.colleague, industry_id="C")
    customer(org.south_rep)
    customer(org.rep, created=at(timezone.localdate() - timedelta(days=400)))


def test_every_number_respects_the_scope(org: Organisation, report_registered: None) -> None:
    made(org)

    def total(user: Any, **params: str) -> int:
        response = api_client(user).get(API, params)
        assert response.status_code == 200, response.content
        return response.json()["summary"][0]["value"]

    assert total(org.admin) == 4
    assert total(org.east_manager) == 3
    assert total(org.rep) == 2
    assert total(org.south_manager) == 1
    assert total(org.admin, department=str(org.east.pk)) == 3
    assert total(org.admin, owner=str(org.colleague.pk)) == 1
    assert total(org.admin, industry="C") == 2
    assert total(org.admin, region="east") == 1
    assert total(org.admin, region="south") == 0


def test_api_errors_are_json(org: Organisation, report_registered: None) -> None:
    client = api_client(org.east_manager)
    bad = client.get(API, {"from": "2026-13-01"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid"
    assert "from" in bad.json()["errors"]
    backwards = client.get(API, {"from": "2026-12-01", "to": "2026-01-01"})
    assert backwards.status_code == 422
    assert "to" in backwards.json()["errors"]
    long = client.get(API, {"from": "2015-01-01", "to": "2026-01-01"})
    assert long.status_code == 422
    assert "to" in long.json()["errors"]
    assert client.get(API, {"industry": "QQ"}).status_code == 422
    outside = client.get(API, {"department": str(org.south.pk)})
    assert outside.status_code == 404
    assert outside.json()["code"] == "not_found"
    assert client.get(API, {"owner": str(org.south_rep.pk)}).status_code == 404
    assert client.get("/api/v1/reports/no-such-report").status_code == 404
    assert client.get(f"{API}/export", {"department": str(org.south.pk)}).status_code == 404


def test_a_role_without_the_report_gets_404(org: Organisation) -> None:
    with registered(spec(roles=frozenset({"manager", "admin"}))):
        assert api_client(org.rep).get(API).status_code == 404
        assert api_client(org.east_manager).get(API).status_code == 200
        index = api_client(org.rep).get("/api/v1/reports").json()
        assert TEST_KEY not in [entry["key"] for entry in index]
        assert TEST_KEY in [e["key"] for e in api_client(org.admin).get("/api/v1/reports").json()]


def test_an_empty_period_is_an_empty_chart(org: Organisation, report_registered: None) -> None:
    made(org)
    response = api_client(org.admin).get(API, {"from": "2001-01-01", "to": "2001-03-31"})
    assert response.status_code == 200
    data = response.json()
    assert data["summary"][0]["value"] == 0
    assert data["tables"][0]["rows"] == []
    assert data["charts"][0]["categories"] == []
    assert data["charts"][0]["series"][0]["data"] == []
    page = client_of(org.admin).get(
        reverse("analytics:report", args=[TEST_KEY]), {"from": "2001-01-01", "to": "2001-03-31"}
    )
    assert page.status_code == 200
    with translation.override("zh-hans"):  # the language of a request without a preference
        no_data = gettext("No data in this period.")
    assert no_data in page.content.decode()
    export = api_client(org.admin).get(f"{API}/export", {"from": "2001-01-01", "to": "2001-03-31"})
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content))["Per rep"]
    assert sheet["A4"].value == no_data


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sheet_rows(content: bytes, title: str) -> list[tuple[Any, ...]]:
    return list(load_workbook(io.BytesIO(content))[title].iter_rows(values_only=True))


def test_the_xlsx_holds_the_numbers_of_the_json(org: Organisation, report_registered: None) -> None:
    made(org)
    client = api_client(org.admin)
    data = client.get(API).json()
    export = client.get(f"{API}/export")
    assert export.status_code == 200
    assert export["Content-Type"] == exports.XLSX_TYPE
    assert f"kehu-{TEST_KEY}-" in export["Content-Disposition"]
    summary = sheet_rows(export.content, "New customers (test)")
    assert summary[0] == ("New customers (test)", None)
    assert [(row[0], row[1]) for row in summary[3:]] == [
        (item["label"], item["value"]) for item in data["summary"]
    ]
    table = data["tables"][0]
    rows = sheet_rows(export.content, "Per rep")
    assert rows[2] == tuple(column["label"] for column in table["columns"])
    expected = [tuple(row[c["key"]] for c in table["columns"]) for row in table["rows"]]
    assert rows[3 : 3 + len(expected)] == expected
    assert [row[0] for row in expected] == ["colleague", "rep", "south_rep"]
    assert rows[4 + len(expected)][0] == table["note"]
    # The page's download is the same workbook.
    page_export = client_of(org.admin).get(reverse("analytics:report_export", args=[TEST_KEY]))
    assert sheet_rows(page_export.content, "Per rep") == rows


def test_the_page_shows_the_numbers_and_the_chart(
    org: Organisation, report_registered: None
) -> None:
    made(org)
    client = client_of(org.east_manager)
    index = client.get(reverse("analytics:reports"))
    assert f'data-report="{TEST_KEY}"' in index.content.decode()
    page = client.get(reverse("analytics:report", args=[TEST_KEY]))
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'data-summary="new_customers">\s*3\s*<', html)
    assert f'id="chart-{TEST_KEY}-owners"' in html  # the chart's JSON for dashboard.js
    assert "south_rep" not in html.split('id="report-filters"')[1]
    export_url = reverse("analytics:report_export", args=[TEST_KEY])
    assert export_url in html


def test_the_page_answers_404_or_shows_the_input_error(
    org: Organisation, report_registered: None
) -> None:
    client = client_of(org.east_manager)
    url = reverse("analytics:report", args=[TEST_KEY])
    assert client.get(url, {"department": str(org.south.pk)}).status_code == 404
    assert client.get(url, {"owner": str(org.south_rep.pk)}).status_code == 404
    assert client.get(reverse("analytics:report", args=["no-such-report"])).status_code == 404
    bad = client.get(url, {"from": "2026-12-01", "to": "2026-01-01"}, follow=True)
    assert bad.status_code == 200
    with translation.override("zh-hans"):
        expected = gettext("The end is before the start.")
    assert any(expected in str(message) for message in bad.context["messages"])
    assert expected in bad.content.decode()


def test_a_fixed_number_of_queries(
    org: Organisation, report_registered: None, django_assert_max_num_queries: Any
) -> None:
    client = api_client(org.admin)
    client.get(API)  # the token, the user and the session are read once
    made(org)
    with django_assert_max_num_queries(12) as few:
        client.get(API)
    for _ in range(10):
        customer(org.rep)
        customer(org.hangzhou_rep)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(API).json()["summary"][0]["value"] == 24


def test_the_registry_orders_and_finds_reports(org: Organisation) -> None:
    with registered(spec("zz-last", order=900), spec("aa-first", order=1)):
        keys = [s.key for s in registry.reports_for(org.rep)]
        assert keys.index("aa-first") < keys.index("zz-last")
        assert registry.report_spec(org.rep, "aa-first").key == "aa-first"
        with pytest.raises(NotFound):
            registry.report_spec(org.rep, "missing")
