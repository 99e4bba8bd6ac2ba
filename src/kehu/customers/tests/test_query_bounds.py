"""Every customer list, search and detail runs a fixed number of queries, whatever the page size.

Numbers are per request, including authentication (token or session) and the grants read of
the access scope; they hold for a sales rep with a share and a pool, and for a manager.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kehu.accounts.models import User
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services
from kehu.customers.models import Customer
from kehu.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db

API_LIST_MAX = 7
HTML_LIST_MAX = 13
API_DETAIL_MAX = 6
HTML_DETAIL_MAX = 18


def probe(q: str) -> int:
    """SQLite counts a search's index matches first, up to a cap (``selectors._index_matches``)."""
    return 1 if q and connection.vendor == "sqlite" else 0


@pytest.fixture
def book(org: Organisation) -> list[Customer]:
    """30 customers of the rep (tags, contacts), one shared by a colleague, one in a pool."""
    customers = [
        make_customer(
            org.rep,
            name=f"上海星河{index:02d}号科技有限公司",
            tags=["重点客户", f"标签{index}"],
            contacts=[{"name": f"王{index}", "mobile": f"1381234{index:04d}", "is_primary": True}],
        )
        for index in range(30)
    ]
    shared = make_customer(org.colleague, name="上海星河共享科技有限公司")
    services.customer_share(actor=org.colleague, customer=shared, user=org.rep, can_edit=False)
    from kehu.pools import services as pools

    pool = pools.pool_create(actor=org.admin, data={"name": "华东公海"}, departments=[org.east])
    pooled = make_customer(org.colleague, name="上海星河公海科技有限公司")
    pools.pool_put(actor=org.admin, customer_id=pooled.pk, pool_id=pool.pk, reason="长期未跟进")
    return customers


def queries_of(client: Client, path: str, **params: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def html_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ["rep", "east_manager"])
@pytest.mark.parametrize("q", ["", "星河", "1381234", "shxh"])
def test_api_list_and_search(org: Organisation, book: list[Customer], who: str, q: str) -> None:
    client = api_client(getattr(org, who))
    queries_of(client, "/api/v1/customers", limit=1)  # token's last-used stamp
    small = queries_of(client, "/api/v1/customers", q=q, limit=2)
    large = queries_of(client, "/api/v1/customers", q=q, limit=20)
    assert small == large <= API_LIST_MAX + probe(q)
    last_page = queries_of(client, "/api/v1/customers", q=q, limit=500)
    if q:  # a search reads its matches' keys first, which are also its count
        assert last_page == small
    else:  # a last, short page is its own count
        assert last_page == small - 1


@pytest.mark.parametrize("who", ["rep", "east_manager"])
@pytest.mark.parametrize("q", ["", "星河", "1381234"])
def test_html_list_and_search(org: Organisation, book: list[Customer], who: str, q: str) -> None:
    client = html_client(getattr(org, who))
    first = queries_of(client, "/customers/", q=q, per_page=25)
    small = queries_of(client, "/customers/", q=q, per_page=25)
    assert first > small  # the cached team completeness (scope grants + aggregate)
    large = queries_of(client, "/customers/", q=q, per_page=100)
    assert small == large <= HTML_LIST_MAX + probe(q)
    fragment = queries_of(client, "/customers/", q=q, page=2, HTTP_HX_REQUEST="true")
    assert fragment <= HTML_LIST_MAX + probe(q)


def test_contact_list_is_bounded(org: Organisation, book: list[Customer]) -> None:
    client = api_client(org.rep)
    queries_of(client, "/api/v1/contacts", limit=1)
    assert queries_of(client, "/api/v1/contacts", limit=2) == queries_of(
        client, "/api/v1/contacts", limit=20
    )


@pytest.mark.parametrize("who", ["rep", "east_manager"])
def test_detail_does_not_grow_with_contacts_and_tags(
    org: Organisation, book: list[Customer], who: str
) -> None:
    plain, rich = book[0], book[1]
    for index in range(8):
        services.contact_create(
            actor=org.rep, customer=rich, data={"name": f"李{index}", "email": f"l{index}@x.cn"}
        )
    services.customer_add_tags(actor=org.rep, customer=rich, tags=[f"附加{i}" for i in range(6)])
    api = api_client(getattr(org, who))
    queries_of(api, f"/api/v1/customers/{plain.pk}")
    assert queries_of(api, f"/api/v1/customers/{plain.pk}") == queries_of(
        api, f"/api/v1/customers/{rich.pk}"
    )
    assert queries_of(api, f"/api/v1/customers/{rich.pk}") <= API_DETAIL_MAX
    html = html_client(getattr(org, who))
    queries_of(html, f"/customers/{plain.pk}/")
    assert queries_of(html, f"/customers/{plain.pk}/") == queries_of(html, f"/customers/{rich.pk}/")
    assert queries_of(html, f"/customers/{rich.pk}/") <= HTML_DETAIL_MAX
    for tab in ("timeline", "history"):  # the rich customer's contacts have history rows
        plain_tab, rich_tab = (f"/customers/{c.pk}/tabs/{tab}/" for c in (plain, rich))
        assert queries_of(html, plain_tab) == queries_of(html, rich_tab)


@pytest.mark.parametrize("who", ["rep", "east_manager", "marketing"])
def test_list_rows_equal_the_detail(org: Organisation, book: list[Customer], who: str) -> None:
    """The list is built from plain rows, the detail from the model: same fields, same values."""
    customer = book[0]
    customer.annual_budget = 880000
    customer.save(update_fields=["annual_budget"])
    client = api_client(getattr(org, who))
    listed = client.get("/api/v1/customers", {"limit": 500}).json()["items"]
    detail = client.get(f"/api/v1/customers/{customer.pk}").json()
    detail.pop("contacts")
    assert next(row for row in listed if row["id"] == customer.pk) == detail
    shared = next(row for row in listed if row["name"] == "上海星河共享科技有限公司")
    assert shared["owner_name"] == str(org.colleague)
    if who == "marketing":
        assert detail["annual_budget"] is None
    else:
        assert float(detail["annual_budget"]) == 880000
        assert detail["tags"] == sorted(detail["tags"])


def test_dashboard_panel_figures_are_cached_and_say_so(
    org: Organisation, book: list[Customer]
) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(org.east_manager)
    first = queries_of(client, "/")
    again = queries_of(client, "/")
    assert again <= first - 5  # the panels' cached figures (customers: one pass) and scope reads
    body = client.get("/").content.decode()
    assert "(updated every 5 minutes)" in body
    assert f"{Customer.objects.visible_to(org.east_manager).count()} customers" in body
