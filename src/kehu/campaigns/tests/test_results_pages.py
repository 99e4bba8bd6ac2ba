"""The results page, the comparison page, their XLSX and the API, on real campaigns, leads and
won deals."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.campaigns.tests.results_support import make_campaign, scenario
from kehu.core.testing.factories import Organisation, api_client

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def workbook_rows(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content))
    return [list(row) for sheet in book for row in sheet.iter_rows(values_only=True)]


def test_results_page_api_and_xlsx(org: Organisation) -> None:
    made = scenario(org)
    made.expo.review = "展位位置偏，下次提前预订主通道。"
    made.expo.save()
    page = signed_in(org.marketing).get(reverse("campaigns:results", args=[made.expo.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    for shown in ("¥15,000", "¥5,000", "¥100,000", "566.7%", "50.0%", "展位位置偏"):
        assert shown in text, shown
    assert 'data-chart="results-chart-funnel"' in text
    assert "新增制造业客户1家（浙江）" in text

    data = api_client(org.east_manager).get(f"/api/v1/campaigns/{made.expo.pk}/results").json()
    assert data["members"] == 6
    assert data["funnel"] == {"invited": 6, "registered": 3, "attended": 2, "interested": 1}
    assert (data["leads"], data["converted_leads"], data["cost"]) == (3, 1, 15000.0)
    assert data["last_touch"] == {
        "leads": 2,
        "opportunities": 2,
        "won": 1,
        "won_amount": 100000.0,
        "roi": 5.6667,
    }
    assert data["first_touch"]["won_amount"] == 0
    assert data["roi"] == 5.6667
    assert [goal["actual"] for goal in data["goals"]] == [3, 1, 0, 100000]

    webinar = api_client(org.admin).get(f"/api/v1/campaigns/{made.webinar.pk}/results").json()
    assert webinar["roi"] is None
    assert webinar["first_touch"]["roi"] is None
    assert webinar["cost_per_lead"] is None

    export = signed_in(org.admin).get(reverse("campaigns:results_export", args=[made.expo.pk]))
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = workbook_rows(export.content)
    assert 15000 in [row[1] for row in rows if len(row) > 1]  # the cost
    assert [0, 100000] in [list(row[1:3]) for row in rows if len(row) > 2]  # won, first/last
    goal = next(row for row in rows if row[0] == "新增线索3条")
    assert (goal[2], goal[3], goal[4], goal[5]) == (None, None, 3, 3)


def test_webinar_page_shows_dashes_without_cost(org: Organisation) -> None:
    made = scenario(org)
    page = signed_in(org.admin).get(reverse("campaigns:results", args=[made.webinar.pk]))
    roi = page.content.decode().split('data-figure="roi">', 1)[1].split("<", 1)[0]
    assert roi == "—"


def test_compare_page_api_and_xlsx(org: Organisation, django_assert_max_num_queries: Any) -> None:
    made = scenario(org)
    client = signed_in(org.marketing)
    page = client.get(reverse("campaigns:compare"))
    text = page.content.decode()
    assert page.status_code == 200
    assert f'data-campaign="{made.expo.pk}"' in text
    assert f'data-campaign="{made.webinar.pk}"' in text
    chart = json.loads(
        text.split('id="results-chart-compare-money" type="application/json">')[1].split(
            "</script>"
        )[0]
    )
    assert chart["series"][0]["data"] == [15000.0, 0.0]
    filtered = client.get(reverse("campaigns:compare"), {"type": "webinar"}).content.decode()
    assert f'data-campaign="{made.expo.pk}"' not in filtered
    bad = client.get(reverse("campaigns:compare"), {"from": "2026-02-30"})
    assert bad.status_code == 200
    assert "YYYY-MM-DD" in bad.content.decode()

    # the page costs the same number of queries with 2 campaigns or 12
    with django_assert_max_num_queries(30) as few:
        client.get(reverse("campaigns:compare"))
    for number in range(10):
        make_campaign(org.marketing, name=f"内容营销{number}", kind="content")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("campaigns:compare"))

    manager = api_client(org.east_manager).get("/api/v1/campaigns/compare").json()
    assert [item["campaign_id"] for item in manager["items"]] == [made.expo.pk]
    assert manager["count"] == 1
    answer = api_client(org.admin).get("/api/v1/campaigns/compare", {"type": "radio"})
    assert answer.status_code == 422
    assert "type" in answer.json()["errors"]
    assert api_client(org.admin).get("/api/v1/campaigns/compare", {"limit": 501}).status_code == 422

    export = client.get(reverse("campaigns:compare_export"), {"type": "trade_show"})
    rows = workbook_rows(export.content)
    assert rows[3][0] == made.expo.name
    assert rows[3][10] == 15000


@pytest.mark.parametrize("role", ["rep", "service"])
def test_compare_is_not_for_sales_or_service(org: Organisation, role: str) -> None:
    user = getattr(org, role)
    assert signed_in(user).get(reverse("campaigns:compare")).status_code == 404
    assert signed_in(user).get(reverse("campaigns:compare_export")).status_code == 404
    assert api_client(user).get("/api/v1/campaigns/compare").status_code == 404
