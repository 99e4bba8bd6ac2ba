"""Bounded counts: exact up to a cap, "more than" beyond it, one LIMITed query at most."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from kehu.core import pagination
from kehu.core.pagination import BoundedPaginator, bounded_count, page_of
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Customer
from kehu.customers.tests.factories import make_customer
from kehu.notifications.services import notify
from kehu.opportunities.tests.factories import make_opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def five(org: Organisation) -> list[Customer]:
    return [make_customer(org.rep) for _ in range(5)]


def test_bounded_count_is_exact_below_the_cap_and_flags_above(five: list[Customer]) -> None:
    rows = Customer.objects.all()
    assert bounded_count(rows, cap=10) == pagination.BoundedCount(5, capped=False)
    assert bounded_count(rows, cap=5) == pagination.BoundedCount(5, capped=False)
    assert bounded_count(rows, cap=2) == pagination.BoundedCount(2, capped=True)
    # the cap moves to the next multiple past the page being shown
    assert bounded_count(rows, end=2, cap=2) == pagination.BoundedCount(4, capped=True)
    assert bounded_count(rows, end=4, cap=2) == pagination.BoundedCount(5, capped=False)
    assert bounded_count(list(rows), cap=2) == pagination.BoundedCount(2, capped=True)


def test_count_is_one_limited_query(five: list[Customer], django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1) as captured:
        bounded_count(Customer.objects.all(), cap=3)
    assert "LIMIT 4" in captured.captured_queries[0]["sql"].upper()


def test_an_ordered_count_keeps_the_list_order(
    five: list[Customer], django_assert_num_queries: Any
) -> None:
    rows = Customer.objects.order_by("name", "id")
    with django_assert_num_queries(1) as captured:
        found = bounded_count(rows, cap=3, ordered=True)
    assert found == pagination.BoundedCount(3, capped=True)
    assert "ORDER BY" in captured.captured_queries[0]["sql"].upper()
    with django_assert_num_queries(1) as captured:
        bounded_count(rows, cap=3)
    assert "ORDER BY" not in captured.captured_queries[0]["sql"].upper()


def test_a_short_page_needs_no_count(five: list[Customer], django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        page = page_of(Customer.objects.order_by("id"), offset=3, limit=10)
    assert (page["count"], page["count_capped"], len(page["items"])) == (5, False, 2)
    with django_assert_num_queries(2):  # an empty page past the start still counts
        assert page_of(Customer.objects.all(), offset=10, limit=10)["count"] == 5


def test_api_list_reports_a_capped_count(
    org: Organisation, five: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    client = api_client(org.rep)
    first = client.get("/api/v1/customers", {"limit": 1}).json()
    assert (first["count"], first["count_capped"], len(first["items"])) == (2, True, 1)
    last = client.get("/api/v1/customers", {"limit": 2, "offset": 4}).json()
    assert (last["count"], last["count_capped"], len(last["items"])) == (5, False, 1)
    exact = api_client(org.colleague).get("/api/v1/customers").json()
    assert (exact["count"], exact["count_capped"]) == (0, False)


def test_lists_of_mapped_rows_and_plain_lists_count_up_to_the_cap(
    org: Organisation, monkeypatch: pytest.MonkeyPatch, django_assert_max_num_queries: Any
) -> None:
    # The opportunity list maps its rows (MappedRows), the notifications answer page_of:
    # both counted every row of the scope before (a manager's 221,893 deals at size L: 91 ms).
    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    for _ in range(3):
        make_opportunity(org.rep)
        notify(recipients=[org.rep], kind="test", title="通知")
    client = api_client(org.rep)
    for url in ("/api/v1/opportunities", "/api/v1/notifications"):
        with django_assert_max_num_queries(8) as captured:
            first = client.get(url, {"limit": 1}).json()
        assert (first["count"], first["count_capped"], len(first["items"])) == (2, True, 1)
        counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
        assert len(counts) == 1
        assert "LIMIT 3" in counts[0].upper()
        last = client.get(url, {"limit": 2, "offset": 2}).json()
        assert (last["count"], last["count_capped"], len(last["items"])) == (3, False, 1)


def test_every_paginated_api_list_carries_the_flag(org: Organisation) -> None:
    body = api_client(org.admin).get("/api/v1/leads", {"limit": 1}).json()
    assert set(body) == {"items", "count", "count_capped"}
    assert body["count_capped"] is False


def test_html_list_says_more_than_and_still_pages_on(
    org: Organisation, five: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    for _ in range(26):
        make_customer(org.rep)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(org.rep)
    first = client.get("/customers/").content.decode()
    assert "More than 30 customers" in first  # next multiple of 10 past the 25 rows shown
    assert "Page 1<" in first
    assert 'id="next-page"' in first
    second = client.get("/customers/", {"page": 2}).content.decode()
    assert "31 customers" in second
    assert "Page 2 of 2" in second
    assert 'id="next-page"' not in second


def test_paginator_tolerates_a_bad_page_number(five: list[Customer]) -> None:
    paginator = BoundedPaginator(Customer.objects.all(), 2, page="x")
    assert paginator.get_page("x").number == 1
    assert (paginator.count, paginator.count_capped) == (5, False)


def test_narrowed_reads_a_few_rows_by_their_keys_and_knows_their_count(
    five: list[Customer], django_assert_num_queries: Any
) -> None:
    rows = Customer.objects.order_by("-id")
    with django_assert_num_queries(1):
        narrow, known = pagination.narrowed(rows)
    assert known == pagination.BoundedCount(5, capped=False)
    with django_assert_num_queries(1):  # the page alone: the count is known
        page = page_of(narrow, offset=3, limit=2, known=known)
    assert [c.pk for c in page["items"]] == [c.pk for c in five[1::-1]]
    assert (page["count"], page["count_capped"]) == (5, False)


def test_narrowed_leaves_a_long_list_as_it_is(
    five: list[Customer], monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    monkeypatch.setattr(pagination, "COUNT_CAP", 3)
    rows = Customer.objects.order_by("id")
    narrow, known = pagination.narrowed(rows)
    assert narrow is rows
    assert known == pagination.BoundedCount(3, capped=True)
    with django_assert_num_queries(1):  # a page ending before the cap: "more than 3"
        first = page_of(narrow, offset=0, limit=2, known=known)
    assert (first["count"], first["count_capped"]) == (3, True)
    with django_assert_num_queries(2):  # past the cap the count is read again, further
        last = page_of(narrow, offset=2, limit=2, known=known)
    assert (last["count"], last["count_capped"]) == (5, False)
    paginator = BoundedPaginator(narrow, 2, page=1, known=known)
    assert (paginator.count, paginator.count_capped) == (3, True)
    assert BoundedPaginator(narrow, 2, page=2, known=known).count == 5
