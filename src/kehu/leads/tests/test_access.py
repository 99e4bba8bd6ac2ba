"""Who sees which leads (scope answers 404), list query counts, reports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from kehu.core.testing.factories import Organisation, api_client
from kehu.leads import selectors, services
from kehu.leads.models import Lead
from kehu.leads.tests.conftest import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def spread(org: Organisation, make_lead: LeadFactory) -> dict[str, Lead]:
    leads = {
        "pool": make_lead(),
        "rep": make_lead(actor=org.rep),
        "colleague": make_lead(actor=org.colleague),
        "hangzhou": make_lead(actor=org.hangzhou_rep),
        "south": make_lead(actor=org.south_rep),
    }
    return leads


def _visible(user: object) -> set[str]:
    return set(Lead.objects.visible_to(user).values_list("contact_name", flat=True))


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("rep", {"rep"}),
        ("colleague", {"colleague"}),
        ("east_manager", {"pool", "rep", "colleague", "hangzhou"}),
        ("south_manager", {"pool", "south"}),
        ("admin", {"pool", "rep", "colleague", "hangzhou", "south"}),
        ("marketing", {"pool", "rep", "colleague", "hangzhou", "south"}),
        ("service", set()),
    ],
)
def test_scope(org: Organisation, spread: dict[str, Lead], who: str, expected: set[str]) -> None:
    names = {lead.contact_name: key for key, lead in spread.items()}
    visible = {names[name] for name in _visible(getattr(org, who))}
    assert visible == expected


def test_out_of_scope_answers_404(org: Organisation, spread: dict[str, Lead]) -> None:
    client = api_client(org.rep)
    assert client.get(f"/api/v1/leads/{spread['colleague'].pk}").status_code == 404
    assert client.get(f"/api/v1/leads/{spread['pool'].pk}").status_code == 404
    assert client.get(f"/api/v1/leads/{spread['rep'].pk}").status_code == 200
    ui = Client()
    ui.force_login(org.rep)
    assert ui.get(reverse("leads:detail", args=[spread["south"].pk])).status_code == 404


def test_marketing_sees_all_but_estimated_value_is_masked(
    org: Organisation, make_lead: LeadFactory
) -> None:
    lead = make_lead(actor=org.rep, estimated_value="80000")
    body = api_client(org.marketing).get(f"/api/v1/leads/{lead.pk}").json()
    assert body["estimated_value"] is None
    assert (
        api_client(org.rep).get(f"/api/v1/leads/{lead.pk}").json()["estimated_value"] == "80000.00"
    )
    assert api_client(org.east_manager).get(f"/api/v1/leads/{lead.pk}").json()["estimated_value"]


def test_api_list_views_and_fixed_query_count(
    org: Organisation, make_lead: LeadFactory, django_assert_max_num_queries: object
) -> None:
    for _ in range(3):
        make_lead(actor=org.rep, region="310115", industry="34")
        make_lead(region="330100")
    client = api_client(org.east_manager)
    with django_assert_max_num_queries(8):  # type: ignore[operator]
        page = client.get("/api/v1/leads?limit=100")
    assert page.json()["count"] == 6
    for _ in range(10):
        make_lead(actor=org.colleague, region="310115", industry="34")
    with django_assert_max_num_queries(8):  # type: ignore[operator]
        page = client.get("/api/v1/leads?limit=100")
    assert page.json()["count"] == 16
    pool = client.get("/api/v1/leads?view=pool").json()
    assert pool["count"] == 3
    mine = api_client(org.rep).get("/api/v1/leads?view=mine").json()
    assert mine["count"] == 3
    search = client.get("/api/v1/leads", {"q": "联系人1"}).json()
    assert search["count"] >= 1
    # a province matches its cities, a city itself
    by_region = {
        code: client.get("/api/v1/leads", {"region": code}).json()["count"]
        for code in ("330000", "330100", "310000", "440000")
    }
    assert by_region == {"330000": 3, "330100": 3, "310000": 13, "440000": 0}


def test_ui_lists_have_a_fixed_query_count(
    org: Organisation, make_lead: LeadFactory, django_assert_max_num_queries: object
) -> None:
    client = Client()
    client.force_login(org.admin)
    for _ in range(5):
        make_lead(actor=org.rep, region="310115", industry="34")
    client.get(reverse("leads:list"))
    with django_assert_max_num_queries(14):  # type: ignore[operator]
        first = client.get(reverse("leads:list"))
    for _ in range(15):
        make_lead(actor=org.colleague, region="330100", industry="C")
    with django_assert_max_num_queries(14):  # type: ignore[operator]
        second = client.get(reverse("leads:list"))
    assert len(first.context["page"]) == 5
    assert len(second.context["page"]) == 20
    for name in ("pool", "mine", "review", "overdue", "rules", "web_forms", "dry_run"):
        assert client.get(reverse(f"leads:{name}")).status_code == 200, name
    rep = Client()
    rep.force_login(org.rep)
    page = rep.get(reverse("leads:mine"))
    assert page.status_code == 200
    assert "lead-countdown" in page.content.decode()
    assert rep.get(reverse("leads:review")).status_code == 403


def test_reports(
    org: Organisation, make_lead: LeadFactory, django_assert_max_num_queries: Any
) -> None:
    with time_machine.travel("2026-03-02 10:00 +08:00", tick=False) as clock:
        first = make_lead(actor=org.rep, region="310115", source="trade_show")
        second = make_lead(actor=org.rep, region="310115", source="website")
        make_lead(actor=org.colleague, region="330100", source="website")
        clock.shift(timedelta(hours=2))
        services.lead_confirm(actor=org.rep, lead=first)
        clock.shift(timedelta(hours=4))
        services.lead_confirm(actor=org.rep, lead=second)
        services.lead_convert(actor=org.rep, lead=first)
    admin = api_client(org.admin)
    with django_assert_max_num_queries(7):  # grouped in the database, whatever the leads
        conversion = admin.get("/api/v1/leads/reports/conversion").json()
    assert conversion["total"] == {"leads": 3, "converted": 1, "rate": 0.3333}
    by_source = {row["key"]: row for row in conversion["by_source"]}
    assert by_source["trade_show"]["rate"] == 1.0
    assert by_source["website"]["rate"] == 0.0
    by_region = {row["key"]: row for row in conversion["by_region"]}
    assert by_region["310000"]["leads"] == 2
    assert by_region["330000"]["converted"] == 0
    by_rep = {row["key"]: row for row in conversion["by_rep"]}
    assert by_rep[str(org.rep.pk)]["rate"] == 0.5
    contact = admin.get("/api/v1/leads/reports/first-contact").json()
    assert contact["median_hours"] == 4.0
    assert contact["contacted"] == 2
    rep_view = api_client(org.colleague).get("/api/v1/leads/reports/conversion").json()
    assert rep_view["total"]["leads"] == 1  # scoped to what the user sees
    later = admin.get("/api/v1/leads/reports/conversion", {"start": "2026-04-01T00:00:00+08:00"})
    assert later.json()["total"]["leads"] == 0


def test_selectors_filter_by_region_province(org: Organisation, make_lead: LeadFactory) -> None:
    make_lead(region="310115")
    make_lead(region="330100")
    found = selectors.lead_list(user=org.admin, filters={"region": "310000"})
    assert found.count() == 1


def test_page_and_api_share_the_lead_filters(org: Organisation, make_lead: LeadFactory) -> None:
    """One ``LeadFilters``: the page's query string narrows like the API's parameters."""
    make_lead(source="website", region="310115", contact_name="官网线索")
    make_lead(source="trade_show", region="330100", contact_name="展会线索")
    query = {"source": "website", "region": "310000", "q": "线索", "page": "1"}
    filters = selectors.LeadFilters.from_querydict(QueryDict(urlencode({**query, "view": "pool"})))
    assert (filters.view, filters.source, filters.region) == ("pool", "website", "310000")
    api = api_client(org.admin).get("/api/v1/leads", {**query, "view": "pool"}).json()
    assert [item["contact_name"] for item in api["items"]] == ["官网线索"]
    ui = Client()
    ui.force_login(org.admin)
    page = ui.get(reverse("leads:pool"), {**query, "view": "review"})  # the URL's view wins
    assert [lead.contact_name for lead in page.context["page"].object_list] == ["官网线索"]
    assert page.context["filters"].view == "pool"
    wrong = ui.get(reverse("leads:pool"), {"assignee": "not-a-number"})
    assert wrong.status_code == 200
    assert len(wrong.context["page"].object_list) == 2
