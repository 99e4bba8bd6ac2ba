"""Rep performance, data quality and demand hotspots: known answers on hand-made data, the
viewer's scope (a rep counts only what the rep sees), masked amounts, filters, the empty
period, query counts, the API and the XLSX export, and the Chinese keywords and categories."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from kehu.accounts.models import User
from kehu.analytics.reporting import Report, ReportFilters, parse_filters
from kehu.analytics.reports import hotspots
from kehu.analytics.reports.activity import data_quality, rep_performance
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Customer, CustomerShare
from kehu.followups.models import FollowUp, Method
from kehu.leads.models import Lead, LeadStatus
from kehu.opportunities.models import Opportunity, Stage, StageKind
from kehu.service.models import Ticket

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 20, 12, 0, tzinfo=SHANGHAI)
IN_PERIOD = datetime(2026, 5, 10, 10, 0, tzinfo=SHANGHAI)
BEFORE = datetime(2026, 2, 10, 10, 0, tzinfo=SHANGHAI)
Q2 = {"from": "2026-04-01", "to": "2026-06-30"}
_numbers = itertools.count(1)


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def customer(owner: User, name: str, created: datetime, **fields: Any) -> Customer:
    made = customer_services.customer_create(actor=owner, data={"name": name}, force=True)
    Customer.objects.filter(pk=made.pk).update(created_at=created, **fields)
    made.refresh_from_db()
    return made


def followup(c: Customer, author: User, when: datetime, method: str, content: str) -> FollowUp:
    return FollowUp.objects.create(
        customer=c, author=author, occurred_at=when, method=method, content=content
    )


def lead(assignee: User, assigned: datetime, hours: float | None, converted: bool) -> Lead:
    return Lead.objects.create(
        contact_name="张先生",
        priority="A",
        source="website",
        status=LeadStatus.CONVERTED if converted else LeadStatus.CONFIRMED,
        assignee=assignee,
        department=assignee.department,
        assigned_at=assigned,
        first_contact_at=assigned + timedelta(hours=hours) if hours is not None else None,
    )


def won(c: Customer, owner: User, amount: int, closed: datetime) -> Opportunity:
    return Opportunity.objects.create(
        customer=c,
        name=f"{c.name} 项目",
        owner=owner,
        department=owner.department,
        amount=Decimal(amount),
        stage=Stage.objects.filter(kind=StageKind.WON).earliest("order"),
        closed_at=closed,
    )


@dataclass
class Data:
    org: Organisation
    c1: Customer
    c2: Customer
    c3: Customer
    c4: Customer
    c5: Customer


@pytest.fixture
def data(org: Organisation, frozen: None) -> Data:
    rep, colleague, south = org.rep, org.colleague, org.south_rep
    old = NOW - timedelta(days=40)
    c1 = customer(
        rep,
        "上海一号精密机械有限公司",
        IN_PERIOD,
        completeness=95,
        verified_at=NOW,
        initial_need="价格太贵，希望有折扣",
    )
    c2 = customer(rep, "苏州重名科技有限公司", BEFORE, completeness=60, verified_at=NOW)
    c3 = customer(
        colleague,
        "杭州三号电子有限公司",
        IN_PERIOD,
        completeness=50,
        verified_at=None,
        contact_info_updated_at=old,
        initial_need="需要与ERP系统集成，担心售后响应速度",
    )
    c4 = customer(
        south, "广州四号贸易有限公司", IN_PERIOD, completeness=100, initial_need="交货期要短"
    )
    c5 = customer(rep, "苏州重名科技有限公司", IN_PERIOD, completeness=80, verified_at=NOW)
    followup(c1, rep, IN_PERIOD, Method.PHONE, "客户反映售后响应慢，要求报价")
    followup(c1, rep, IN_PERIOD + timedelta(days=1), Method.PHONE, "沟通培训安排")
    followup(c1, rep, IN_PERIOD + timedelta(days=2), Method.VISIT, "上门拜访，演示报表功能")
    followup(c1, rep, BEFORE, Method.VISIT, "去年的拜访")
    followup(c3, colleague, IN_PERIOD, Method.VISIT, "系统稳定性和数据对接")
    followup(c4, south, IN_PERIOD, Method.PHONE, "价格")
    followup(c4, south, IN_PERIOD, Method.PHONE, "价格")
    lead(rep, IN_PERIOD, 1, converted=True)
    lead(rep, IN_PERIOD, 3, converted=False)
    lead(colleague, IN_PERIOD, None, converted=False)
    lead(rep, BEFORE, 10, converted=True)
    lead(south, IN_PERIOD, 5, converted=True)
    won(c1, rep, 100_000, IN_PERIOD)
    won(c3, colleague, 50_000, IN_PERIOD)
    won(c1, rep, 7_000, BEFORE)
    won(c4, south, 30_000, IN_PERIOD)
    return Data(org, c1, c2, c3, c4, c5)


def run(build: Any, user: User, **params: str) -> Report:
    filters = parse_filters(user=user, params={**Q2, **params})
    return build(user, filters)


def summary(report: Report) -> dict[str, Any]:
    return {key: value for key, _label, value, _kind in report.summary}


def rows_by(report: Report, table: str, key: str) -> dict[str, dict[str, Any]]:
    found = next(t for t in report.tables if t.key == table)
    return {row[key]: row for row in found.rows}


# --- rep performance -------------------------------------------------------------------------


def test_rep_performance_of_a_manager(data: Data) -> None:
    report = run(rep_performance, data.org.east_manager)
    assert summary(report) == {
        "followups": 4,
        "visits": 2,
        "new_customers": 3,
        "leads_converted": 1,
        "won_deals": 2,
        "won_amount": Decimal(150_000),
        "avg_lead_response_hours": 2.0,
    }
    assert not report.amounts_masked
    rows = rows_by(report, "reps", "rep")
    rep = rows["rep"]
    assert (rep["followups"], rep["visits"], rep["new_customers"]) == (3, 1, 2)
    assert (rep["leads"], rep["leads_converted"], rep["conversion_pct"]) == (2, 1, 50.0)
    assert (rep["won_deals"], rep["won_amount"], rep["response_hours"]) == (1, 100_000, 2.0)
    assert rep["kpi_met"] == str(_("yes"))
    colleague = rows["colleague"]
    assert (colleague["followups"], colleague["visits"], colleague["leads"]) == (1, 1, 1)
    assert colleague["response_hours"] is None
    assert colleague["kpi_met"] == ""
    assert "south_rep" not in rows
    chart = report.charts[0]
    assert chart.categories == ["rep", "colleague"]
    assert chart.series[0]["data"] == [3, 1]


def test_rep_performance_of_an_admin_counts_everyone(data: Data) -> None:
    figures = summary(run(rep_performance, data.org.admin))
    assert figures["followups"] == 6
    assert figures["won_deals"] == 3
    assert figures["won_amount"] == Decimal(180_000)
    assert figures["avg_lead_response_hours"] == 3.0  # (1 + 3 + 5) / 3


def test_a_rep_counts_only_what_the_rep_sees_and_shared_amounts_are_masked(data: Data) -> None:
    org = data.org
    report = run(rep_performance, org.rep)
    figures = summary(report)
    assert figures["followups"] == 3
    assert figures["won_deals"] == 1
    assert figures["won_amount"] == Decimal(100_000)
    assert not report.amounts_masked
    # The colleague's customer shared with the rep: its deal is visible, its amount is not.
    CustomerShare.objects.create(customer=data.c3, user=org.rep, shared_by=org.colleague)
    report = run(rep_performance, User.objects.get(pk=org.rep.pk))
    figures = summary(report)
    assert figures["followups"] == 4  # the colleague's follow-up on the shared customer
    assert figures["won_deals"] == 2
    assert figures["won_amount"] == Decimal(100_000)
    assert report.amounts_masked
    assert report.tables[0].note
    assert rows_by(report, "reps", "rep")["colleague"]["won_amount"] == 0


def test_rep_performance_filters(data: Data) -> None:
    manager = data.org.east_manager
    by_rep = summary(run(rep_performance, manager, owner=str(data.org.colleague.pk)))
    assert (by_rep["followups"], by_rep["won_deals"], by_rep["new_customers"]) == (1, 1, 1)
    hangzhou = summary(run(rep_performance, manager, department=str(data.org.hangzhou.pk)))
    assert hangzhou["followups"] == 0
    assert hangzhou["won_deals"] == 0
    Customer.objects.filter(pk=data.c1.pk).update(industry_id="C", region_id="310000")
    manufacturing = summary(run(rep_performance, manager, industry="C"))
    assert (manufacturing["followups"], manufacturing["won_deals"]) == (3, 1)
    east = summary(run(rep_performance, manager, region="east"))
    assert east["followups"] == 3
    north = summary(run(rep_performance, manager, region="north"))
    assert north["followups"] == 0


def test_an_empty_period_is_an_empty_report(data: Data) -> None:
    for build in (rep_performance, data_quality, hotspots.demand_hotspots):
        report = run(build, data.org.admin, **{"from": "2020-01-01", "to": "2020-03-31"})
        assert all(not table.rows for table in report.tables), build
        assert all(not chart.series for chart in report.charts), build
    figures = summary(
        run(rep_performance, data.org.admin, **{"from": "2020-01-01", "to": "2020-12-31"})
    )
    assert figures["avg_lead_response_hours"] is None


# --- data quality ----------------------------------------------------------------------------


def test_data_quality_of_a_manager(data: Data) -> None:
    report = run(data_quality, data.org.east_manager)
    assert summary(report) == {
        "customers": 3,  # c1, c3, c5 created in the period (c2 before, c4 in the south)
        "avg_completeness_pct": 75.0,  # (95 + 50 + 80) / 3
        "complete_pct": 33.3,  # c1
        "unverified": 1,  # c3
        "stale": 1,  # c3: 40 days
        "suspected_duplicates": 1,  # c5, the same name as c2
    }
    rows = rows_by(report, "owners", "rep")
    assert rows["rep"]["customers"] == 2
    assert rows["rep"]["suspected_duplicates"] == 1
    assert rows["colleague"]["stale"] == 1
    assert rows["colleague"]["department"] == "上海组"


def test_data_quality_scope_and_to_verify(data: Data) -> None:
    Customer.objects.filter(pk=data.c1.pk).update(to_verify=["website"])
    figures = summary(run(data_quality, data.org.rep))
    assert figures["customers"] == 2
    assert figures["unverified"] == 1  # c1 still has a field marked 待核实
    south = summary(run(data_quality, data.org.south_manager))
    assert (south["customers"], south["suspected_duplicates"]) == (1, 0)


# --- demand hotspots -------------------------------------------------------------------------


def test_chinese_keywords_and_categories() -> None:
    words = hotspots.words_of("需要与ERP系统集成，担心售后响应速度，客户沟通")
    assert {"erp", "系统集成"} <= words
    assert "客户" not in words
    assert "沟通" not in words
    assert "需要" not in words  # the service's stop words
    assert hotspots.categories_of("价格太贵，售后响应慢") == {"price", "service_response"}
    assert hotspots.categories_of("需要和ERP对接") == {"integration"}
    assert hotspots.categories_of("二次开发报表") == {"features"}
    assert hotspots.categories_of("天气不错") == set()


def test_demand_hotspots_of_a_manager(data: Data) -> None:
    Ticket.objects.create(
        number="T900000001",
        customer=data.c3,
        subject="设备故障停机",
        content="售后响应太慢",
        raised_at=IN_PERIOD,
    )
    report = run(hotspots.demand_hotspots, data.org.east_manager)
    figures = summary(report)
    assert figures["texts"] == 2 + 4 + 1  # needs of c1 and c3, 4 follow-ups, 1 ticket
    rows = rows_by(report, "categories", "category")
    response = rows[str(hotspots.CATEGORY_LABELS["service_response"])]
    assert (response["customers"], response["customers_pct"]) == (2, 100.0)
    assert (response["need_texts"], response["followup_texts"], response["ticket_texts"]) == (
        1,
        1,
        1,
    )
    price = rows[str(hotspots.CATEGORY_LABELS["price"])]
    assert (price["customers"], price["customers_pct"]) == (1, 50.0)
    assert str(hotspots.CATEGORY_LABELS["delivery"]) not in rows  # the south's customer
    assert figures["top_category"] == str(hotspots.CATEGORY_LABELS["service_response"])
    assert figures["top_category_pct"] == 100.0
    keywords = rows_by(report, "keywords", "keyword")
    assert "erp" in keywords
    assert "客户" not in keywords
    assert "80" in str(report.tables[0].note)


def test_demand_hotspots_scope_and_cache(data: Data) -> None:
    report = run(hotspots.demand_hotspots, data.org.south_rep)
    rows = rows_by(report, "categories", "category")
    assert set(rows) == {
        str(hotspots.CATEGORY_LABELS["price"]),
        str(hotspots.CATEGORY_LABELS["delivery"]),
    }
    followup(data.c4, data.org.south_rep, IN_PERIOD, Method.PHONE, "系统集成")
    cached = run(hotspots.demand_hotspots, data.org.south_rep)
    assert summary(cached)["texts"] == summary(report)["texts"]  # cached for a few minutes


# --- query counts, API, export ---------------------------------------------------------------


def test_a_fixed_number_of_queries(data: Data, django_assert_max_num_queries: Any) -> None:
    org = data.org
    for n in range(5):  # more rows must not mean more queries
        c = customer(org.hangzhou_rep, f"新客户{n}号有限公司", IN_PERIOD, initial_need="价格")
        followup(c, org.hangzhou_rep, IN_PERIOD, Method.VISIT, "培训")
        won(c, org.hangzhou_rep, 1000, IN_PERIOD)
        lead(org.hangzhou_rep, IN_PERIOD, 1, converted=True)
    for user in (org.admin, org.east_manager, org.rep):
        user = User.objects.get(pk=user.pk)
        filters = parse_filters(user=user, params=Q2)
        with django_assert_max_num_queries(11):  # 6 + the scope look-ups
            rep_performance(user, filters)
        with django_assert_max_num_queries(8):
            data_quality(user, filters)
        with django_assert_max_num_queries(8):
            hotspots.demand_hotspots(user, filters)


def test_api_and_xlsx_hold_the_same_numbers(data: Data) -> None:
    client = api_client(data.org.east_manager)
    for key in ("rep-performance", "data-quality", "demand-hotspots"):
        answer = client.get(f"/api/v1/reports/{key}", Q2)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["key"] == key
        assert body["tables"]
        export = client.get(f"/api/v1/reports/{key}/export", Q2)
        assert export.status_code == 200
        book = load_workbook(io.BytesIO(export.content))
        assert len(book.sheetnames) >= 1
    body = client.get("/api/v1/reports/rep-performance", Q2).json()
    assert {item["key"]: item["value"] for item in body["summary"]}["followups"] == 4
    south = {**Q2, "department": str(data.org.south.pk)}
    outside = client.get("/api/v1/reports/rep-performance", south)
    assert outside.status_code == 404
    six_years = {"from": "2015-01-01", "to": "2026-06-30"}
    too_long = client.get("/api/v1/reports/data-quality", six_years)
    assert too_long.status_code == 422


def test_pages_render(data: Data, client: Any) -> None:
    client.force_login(data.org.east_manager)
    for key in ("rep-performance", "data-quality", "demand-hotspots"):
        page = client.get(f"/analytics/reports/{key}/", Q2)
        assert page.status_code == 200
        assert 'data-chart="' in page.content.decode()


def test_filters_type() -> None:
    filters = ReportFilters(date(2026, 4, 1), date(2026, 6, 30))
    assert filters.days == 91


# Redis expires keys by its own clock, which time_machine does not move: the expiry is
# checked on the local-memory cache, whatever cache the run is configured with.
@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_data_quality_is_cached_a_few_minutes(data: Data) -> None:
    first = summary(run(data_quality, data.org.east_manager))
    Customer.objects.filter(pk=data.c3.pk).update(verified_at=NOW)
    assert summary(run(data_quality, data.org.east_manager)) == first
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
        assert summary(run(data_quality, data.org.east_manager))["unverified"] == 0
