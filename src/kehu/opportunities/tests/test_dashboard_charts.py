"""The pipeline dashboard's charts (pipeline by stage, won per month) and money as people read
it on the pipeline pages."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from kehu.core.testing.deals import win
from kehu.core.testing.factories import Organisation
from kehu.opportunities import selectors
from kehu.opportunities.tests.factories import make_opportunity, ready_for_proposal

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def won_deal(owner: Any, amount: str) -> None:
    deal = make_opportunity(owner, stage="needs_analysis", needs="CRM", amount=Decimal(amount))
    win(deal, owner)


def panel_of(response: Any, template: str) -> dict[str, Any]:
    return next(p.context for p in response.context["panels"] if p.template == template)


def test_won_per_month_is_scoped_and_has_every_month(org: Organisation) -> None:
    with time_machine.travel(datetime(2026, 10, 15, 10, 0, tzinfo=NOW.tzinfo), tick=False):
        won_deal(org.rep, "300000")
    with time_machine.travel(NOW, tick=False):
        won_deal(org.rep, "21716000")
        won_deal(org.hangzhou_rep, "100000")
        months = selectors.won_per_month(user=org.rep)
        team = selectors.won_per_month(user=org.east_manager)
    assert next(m.month for m in months) == "2026-01"
    assert months[-1].month == "2026-12"
    assert len(months) == 12
    by_month = {m.month: (m.count, m.amount) for m in months}
    assert by_month["2026-10"] == (1, Decimal(300000))
    assert by_month["2026-12"] == (1, Decimal(21716000))  # not the other team's deal
    assert sum(m.count for m in team) == 3


def test_dashboard_charts_and_their_query_count_is_fixed(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = signed_in(org.east_manager)
    with time_machine.travel(NOW, tick=False):
        ready_for_proposal(org.rep)
        client.get("/")
        with django_assert_max_num_queries(60) as before:
            client.get("/")
        for owner in (org.rep, org.colleague, org.hangzhou_rep) * 2:
            ready_for_proposal(owner)
            won_deal(owner, "1000")
        with django_assert_max_num_queries(len(before.captured_queries)):
            response = client.get("/")
    page = response.content.decode()
    assert 'id="pipeline-chart-data"' in page
    assert 'id="won-chart-data"' in page
    pipeline = panel_of(response, "opportunities/dashboard_panel.html")["chart"]
    index = pipeline["categories"].index("需求分析")
    assert pipeline["series"][0]["data"][index] == 7 * 200000.0
    assert pipeline["series"][1]["data"][index] == 7
    won = panel_of(response, "opportunities/won_panel.html")
    assert won["chart"]["series"][0]["data"][-1] == 6000.0
    assert won["count"] == 6


def test_pages_write_money_as_people_read_it(org: Organisation) -> None:
    make_opportunity(org.rep, amount=Decimal("21716000.00"))
    client = signed_in(org.rep)
    board = client.get(reverse("opportunities:board")).content.decode()
    assert "¥21,716,000" in board
    org.rep.money_unit = "wan"
    org.rep.save(update_fields=["money_unit"])
    board = client.get(reverse("opportunities:board")).content.decode()
    assert "2,171.6万" in board  # the card and the column total, in the user's short unit
    dashboard = client.get("/").content.decode()
    assert "2,171.6万" in dashboard
    make_opportunity(org.rep, amount=Decimal("1200"), currency="USD")
    listing = client.get(reverse("opportunities:list")).content.decode()
    assert "¥21,716,000" in listing
    assert "USD 1,200" in listing
    assert "21716000" not in listing
    assert "CNY" not in listing


def test_dashboard_percentages_have_one_decimal(org: Organisation) -> None:
    make_opportunity(org.rep, amount=Decimal("1000"))
    page = signed_in(org.rep).get("/").content.decode()
    assert re.search(r"平均信息完整度 \d+\.\d%", page)  # the customers panel
