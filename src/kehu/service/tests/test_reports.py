"""Feedback analysis: the figures of each report on a small known data set, the scope, the
period filters, the query counts, the jieba keywords without stop words, and the page."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from kehu.accounts.models import User
from kehu.core.testing.factories import Organisation, api_client
from kehu.service.models import Survey, Ticket
from kehu.service.selectors import reports
from kehu.service.tests.tickets_support import Desk, make_customer, make_desk

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 20, 12, 0, tzinfo=SHANGHAI)
_numbers = itertools.count(1)


@dataclass
class Data:
    desk: Desk
    t1: Ticket
    t2: Ticket
    t3: Ticket
    t4: Ticket


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def ticket(raised: datetime, **fields: Any) -> Ticket:
    response_due = raised + timedelta(hours=2)
    resolution_due = raised + timedelta(hours=24)
    return Ticket.objects.create(
        number=f"T9{next(_numbers):09d}",
        raised_at=raised,
        response_due_at=response_due,
        resolution_due_at=resolution_due,
        **fields,
    )


def survey(t: Ticket, score: int, answered: datetime) -> Survey:
    return Survey.objects.create(
        ticket=t,
        customer=t.customer,
        nonce="n" * 32,
        sent_at=answered - timedelta(hours=1),
        expires_at=answered + timedelta(days=14),
        answered_at=answered,
        score=score,
    )


@pytest.fixture
def data(org: Organisation, frozen: None) -> Data:
    desk = make_desk(org)
    south_customer, _contact = make_customer(org.south_rep, email="li@example.cn")
    day = timedelta(days=1)
    hour = timedelta(hours=1)
    raised = NOW - 10 * day
    t1 = ticket(
        raised,
        customer=desk.customer,
        subject="主轴报警停机",
        content="主轴温度过高，设备自动停机。我们的问题",
        ticket_type="support",
        product="X100",
        priority="high",
        status="resolved",
        department=desk.team_a,
        assignee=desk.agent,
        first_response_at=raised + hour,
        response_minutes=60,
        resolved_at=raised + 20 * hour,
        resolution_minutes=1200,
    )
    t2 = ticket(
        raised + hour,
        customer=desk.customer,
        subject="主轴异响",
        content="您好，主轴异响，请尽快处理",
        ticket_type="support",
        product="X100",
        priority="high",
        status="resolved",
        department=desk.team_a,
        assignee=desk.agent2,
        first_response_at=raised + 4 * hour,
        response_minutes=180,
        resolved_at=raised + 31 * hour,
        resolution_minutes=1800,
    )
    t3 = ticket(
        NOW - 40 * day,
        customer=south_customer,
        subject="发票开错了",
        content="发票抬头错误，客户投诉",
        ticket_type="complaint",
        product="Y200",
        priority="medium",
        status="in_progress",
        department=desk.team_b,
        assignee=desk.other_team_agent,
        first_response_at=NOW - 40 * day + hour / 2,
        response_minutes=30,
    )
    t4 = ticket(
        NOW - hour,
        customer=south_customer,
        subject="咨询价格 price of the license",
        content="What is the price of the license please?",
        ticket_type="consultation",
        priority="low",
        status="new",
        department=desk.team_b,
    )
    # Outside the period, and a merged duplicate: both left out.
    ticket(
        NOW - 200 * day,
        customer=desk.customer,
        subject="旧工单",
        content="主轴",
        ticket_type="support",
        product="X100",
    )
    ticket(
        raised,
        customer=desk.customer,
        subject="主轴报警（重复）",
        content="主轴",
        ticket_type="support",
        product="X100",
        merged_into=t1,
    )
    survey(t1, 5, datetime(2026, 6, 10, 9, 0, tzinfo=SHANGHAI))
    survey(t2, 2, datetime(2026, 6, 12, 9, 0, tzinfo=SHANGHAI))
    survey(t3, 3, datetime(2026, 5, 5, 9, 0, tzinfo=SHANGHAI))
    return Data(desk, t1, t2, t3, t4)


def get(user: User, report: str, **params: Any) -> Any:
    response = api_client(user).get(f"/api/v1/reports/service/{report}", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_problems_by_type_and_product(data: Data) -> None:
    result = get(data.desk.org.admin, "problems")
    assert result["period"] == {"from": "2026-03-23", "to": "2026-06-20"}
    assert result["total"] == 4
    by_type = {row["key"]: (row["count"], row["share"]) for row in result["by_type"]}
    assert by_type == {
        "consultation": (1, 25.0),
        "support": (2, 50.0),
        "improvement": (0, 0.0),
        "complaint": (1, 25.0),
    }
    products = [(row["product"], row["count"], row["share"]) for row in result["by_product"]]
    assert products == [("X100", 2, 50.0), ("", 1, 25.0), ("Y200", 1, 25.0)]


def test_sla_attainment_by_priority(data: Data) -> None:
    result = get(data.desk.org.admin, "sla")
    lines = {row["key"]: row for row in result["by_priority"]}
    high, medium, low = lines["high"], lines["medium"], lines["low"]
    assert (high["tickets"], high["response_met"], high["response_counted"]) == (2, 1, 2)
    assert (high["response_met_pct"], high["resolution_met_pct"]) == (50.0, 50.0)
    # Responded in time; not resolved and past the resolution due time: counted, not met.
    assert (medium["response_met_pct"], medium["resolution_met_pct"]) == (100.0, 0.0)
    # Nothing due yet: no figure rather than 0 %.
    assert (low["tickets"], low["response_met_pct"], low["resolution_met_pct"]) == (1, None, None)
    overall = result["overall"]
    assert (overall["tickets"], overall["response_met_pct"]) == (4, 66.7)
    assert (overall["resolution_met"], overall["resolution_counted"]) == (1, 3)


def test_times_per_team_and_agent(data: Data) -> None:
    result = get(data.desk.org.admin, "times")
    teams = {row["label"]: row for row in result["by_team"]}
    assert set(teams) == {"售后一组", "售后二组"}
    a, b = teams["售后一组"], teams["售后二组"]
    assert (a["tickets"], a["responded"], a["response_median"], a["response_avg"]) == (
        2,
        2,
        120.0,
        120.0,
    )
    assert (a["resolved"], a["resolution_median"], a["resolution_avg"]) == (2, 1500.0, 1500.0)
    assert (b["tickets"], b["response_median"], b["resolved"], b["resolution_median"]) == (
        2,
        30.0,
        0,
        None,
    )
    agents = {row["label"]: row for row in result["by_agent"]}
    assert agents["agent_a"]["response_median"] == 60.0
    assert agents["agent_a2"]["resolution_avg"] == 1800.0
    assert agents["agent_b"]["responded"] == 1
    nobody = next(row for row in result["by_agent"] if row["id"] is None)
    assert (nobody["tickets"], nobody["responded"]) == (1, 0)


def test_median_of_an_even_and_odd_count(data: Data) -> None:
    # A third ticket of team A: the median moves to the middle value, the average does not.
    raised = NOW - timedelta(days=3)
    ticket(
        raised,
        customer=data.desk.customer,
        subject="s",
        content="c",
        department=data.desk.team_a,
        assignee=data.desk.agent,
        first_response_at=raised,
        response_minutes=1000,
    )
    team = next(
        row for row in get(data.desk.org.admin, "times")["by_team"] if row["label"] == "售后一组"
    )
    assert (team["response_median"], team["response_avg"]) == (180.0, 413.3)


def test_satisfaction_trend_by_month(data: Data) -> None:
    result = get(data.desk.org.admin, "satisfaction")
    months = {row["month"]: row for row in result["months"]}
    assert list(months) == ["2026-03", "2026-04", "2026-05", "2026-06"]
    assert months["2026-04"]["count"] == 0
    assert months["2026-04"]["average"] is None
    assert (months["2026-05"]["count"], months["2026-05"]["average"]) == (1, 3.0)
    june = months["2026-06"]
    assert (june["count"], june["average"]) == (2, 3.5)
    assert june["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    assert result["overall"]["count"] == 3
    assert result["overall"]["average"] == 3.33


def test_keywords_by_jieba_without_stop_words(data: Data) -> None:
    result = get(data.desk.org.admin, "keywords")
    assert result["sampled"] == 4
    words = {row["word"]: row["tickets"] for row in result["keywords"]}
    assert result["keywords"][0] == {"word": "主轴", "tickets": 2, "share": 50.0}
    assert {"发票", "停机", "报警", "price", "license"} <= set(words)
    stop = {"我们", "问题", "您好", "尽快", "处理", "客户", "the", "of", "what", "is", "please"}
    assert not stop & set(words)
    assert stop <= reports.stop_words()
    assert all(len(word) >= 2 for word in words)


def test_keywords_sample_is_bounded(data: Data, monkeypatch: Any) -> None:
    monkeypatch.setattr(reports, "KEYWORD_SAMPLE", 2)
    result = reports.keywords_report(user=data.desk.org.admin, period=reports.report_period())
    # The two newest tickets of the period: t4 (1 h ago) and t2.
    assert result["sampled"] == 2
    words = {row["word"] for row in result["keywords"]}
    assert {"价格", "主轴"} <= words
    assert "发票" not in words


def test_a_sales_rep_sees_only_own_customers_tickets(data: Data) -> None:
    org = data.desk.org
    rep = get(org.rep, "problems")
    assert rep["total"] == 2
    assert [row["product"] for row in rep["by_product"]] == ["X100"]
    assert get(org.rep, "satisfaction")["overall"]["count"] == 2
    assert get(org.rep, "sla")["overall"]["tickets"] == 2
    assert {row["label"] for row in get(org.rep, "times")["by_team"]} == {"售后一组"}
    words = {row["word"] for row in get(org.rep, "keywords")["keywords"]}
    assert "发票" not in words
    south = get(org.south_rep, "problems")
    assert south["total"] == 2
    assert get(org.south_rep, "satisfaction")["overall"]["count"] == 1
    # A service agent sees their team's tickets; a sales rep with no customers nothing.
    assert get(data.desk.other_team_agent, "problems")["total"] == 2
    assert get(org.hangzhou_rep, "problems")["total"] == 0
    assert get(org.hangzhou_rep, "satisfaction")["overall"]["count"] == 0


def test_period_filters(data: Data) -> None:
    admin = data.desk.org.admin
    assert get(admin, "problems", **{"from": "2026-06-01", "to": "2026-06-20"})["total"] == 3
    assert get(admin, "problems", **{"from": "2026-05-01", "to": "2026-05-31"})["total"] == 1
    everything = get(admin, "problems", **{"from": "2025-12-01"})
    assert everything["total"] == 5
    june = get(admin, "satisfaction", **{"from": "2026-06-01", "to": "2026-06-30"})
    assert [row["month"] for row in june["months"]] == ["2026-06"]
    assert june["overall"]["count"] == 2


@pytest.mark.parametrize("report", ["problems", "keywords", "sla", "times", "satisfaction"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-06-10", "to": "2026-06-01"}, "to"),
        ({"from": "2020-01-01", "to": "2026-06-01"}, "to"),
    ],
)
def test_bad_dates_are_a_clear_422(
    org: Organisation, report: str, params: dict[str, str], field: str
) -> None:
    response = api_client(org.admin).get(f"/api/v1/reports/service/{report}", params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"]


TIMES_QUERIES = 4


@pytest.mark.parametrize(
    ("report", "queries"),
    [("problems", 1), ("keywords", 1), ("sla", 1), ("times", TIMES_QUERIES), ("satisfaction", 1)],
)
def test_fixed_number_of_queries(
    data: Data, django_assert_num_queries: Any, report: str, queries: int
) -> None:
    manager = data.desk.service_manager
    period = reports.report_period()
    run = getattr(reports, f"{report}_report")
    run(user=manager, period=period)  # warm: the scope's grants, jieba's dictionary
    for n in range(5):  # more tickets: the same number of queries
        ticket(
            NOW - timedelta(days=n + 1),
            customer=data.desk.customer,
            subject=f"新增工单{n}",
            content="设备报警",
            department=data.desk.team_a,
        )
    reports.cache.clear()
    with django_assert_num_queries(queries):
        run(user=manager, period=period)


def test_api_queries_stay_bounded(data: Data, django_assert_max_num_queries: Any) -> None:
    client = api_client(data.desk.org.admin)
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/reports/service/times").status_code == 200


def test_analysis_page(data: Data, django_assert_max_num_queries: Any) -> None:
    client = Client()
    client.force_login(data.desk.org.admin)
    with django_assert_max_num_queries(16):
        page = client.get("/service/reports/", {"from": "2026-06-01", "to": "2026-06-20"})
    assert page.status_code == 200
    text = page.content.decode()
    for chart in ("types-chart", "products-chart", "keywords-chart", "sla-chart"):
        assert f'id="{chart}"' in text
    assert 'id="satisfaction-chart"' in text
    assert "vendor/echarts/echarts.min.js" in text
    assert 'id="chart-satisfaction"' in text
    assert "售后一组" in text
    assert 'value="2026-06-01"' in text
    # The menu shows the page to managers, admins and service, not to sales.
    assert 'href="/service/reports/"' in text
    rep = Client()
    rep.force_login(data.desk.org.rep)
    rep_page = rep.get("/service/reports/")
    assert rep_page.status_code == 200
    assert 'href="/service/reports/"' not in rep_page.content.decode().split("<main")[0]


def test_analysis_page_with_bad_dates_shows_the_default_period(org: Organisation) -> None:
    client = Client()
    client.force_login(org.east_manager)
    page = client.get("/service/reports/", {"from": "2026-02-30"})
    assert page.status_code == 200
    assert "YYYY-MM-DD" in page.content.decode()
    assert Client().get("/service/reports/").status_code == 302
