"""The contact list: its order is total and stable, both forms of its scope agree, it reads
along its index (no sort) and runs a fixed number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from kehu.accounts.models import User
from kehu.core import pagination
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import selectors, services
from kehu.customers.models import Contact, Customer
from kehu.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db

# token, a manager's departments, grants (shares and pools), the scope's size (up to
# INLINE_CUSTOMERS), the page, its bounded count: of the first customers' contacts, then,
# when those stay below the cap, of the whole list
API_CONTACT_LIST_MAX = 7


@pytest.fixture
def contacts(org: Organisation) -> dict[str, Customer]:
    """Customers of the rep with several contacts (one who left), a colleague's shared with
    the rep, another colleague's, and one of the south region."""
    made: dict[str, Customer] = {}
    for index in range(4):
        made[f"rep{index}"] = make_customer(
            org.rep,
            contacts=[
                {"name": "赵六", "mobile": f"1390000{index}001"},
                {"name": "王五", "mobile": f"1390000{index}002", "is_primary": True},
                {"name": "王五", "email": f"wang{index}@example.cn"},
            ],
        )
    left = Contact.objects.filter(customer=made["rep0"], name="赵六").get()
    services.contact_deactivate(actor=org.rep, contact=left)
    made["shared"] = make_customer(org.colleague, contacts=[{"name": "孙七"}])
    services.customer_share(
        actor=org.colleague, customer=made["shared"], user=org.rep, can_edit=False
    )
    made["colleague"] = make_customer(org.colleague, contacts=[{"name": "周八"}])
    made["south"] = make_customer(org.south_rep, contacts=[{"name": "吴九"}])
    return made


def expected(user: User) -> list[int]:
    """The visible contacts in the documented order, computed in Python."""
    visible = set(Customer.objects.visible_to(user).values_list("pk", flat=True))
    rows = [c for c in Contact.objects.order_by("pk") if c.customer_id in visible]
    rows.sort(key=lambda c: (c.customer_id, not c.is_active, not c.is_primary, c.name, c.pk))
    return [c.pk for c in rows]


def paged(user: User, limit: int) -> tuple[list[int], list[dict[str, Any]]]:
    ids: list[int] = []
    pages: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = selectors.contact_page(user=user, offset=offset, limit=limit)
        pages.append(page)
        ids += [row["id"] for row in page["items"]]
        if len(page["items"]) < limit:
            return ids, pages
        offset += limit


@pytest.mark.parametrize("inline", [True, False], ids=["ids", "per-row"])
@pytest.mark.parametrize("who", ["rep", "east_manager", "admin", "south_manager"])
def test_order_is_total_and_both_scope_forms_agree(
    org: Organisation,
    contacts: dict[str, Customer],
    monkeypatch: pytest.MonkeyPatch,
    inline: bool,
    who: str,
) -> None:
    if not inline:  # any scope is "big": each contact's customer is checked per row
        monkeypatch.setattr(selectors, "INLINE_CUSTOMERS", 1)
    user = getattr(org, who)
    want = expected(user)
    assert want
    ids, pages = paged(user, limit=2)
    assert ids == want  # pages of two neither repeat nor skip a contact
    assert [c.pk for c in selectors.contact_list(user=user)] == want
    assert pages[0]["count"] == len(want)
    if who == "rep":
        shared = set(contacts["shared"].contacts.values_list("pk", flat=True))
        assert shared <= set(ids)
        assert not set(contacts["colleague"].contacts.values_list("pk", flat=True)) & set(ids)


def test_count_stops_at_the_cap_through_the_first_customers(
    org: Organisation, contacts: dict[str, Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "INLINE_CUSTOMERS", 2)
    monkeypatch.setattr(pagination, "COUNT_CAP", 4)
    page = selectors.contact_page(user=org.rep, offset=0, limit=2)
    assert (page["count"], page["count_capped"]) == (4, True)
    page = selectors.contact_page(user=org.rep, offset=0, limit=2, active=False)
    assert (page["count"], page["count_capped"]) == (1, False)


def test_filters_by_customer_and_activity(org: Organisation, contacts: dict[str, Customer]) -> None:
    customer = contacts["rep0"]
    fields = ("name", "is_active", "is_primary")
    page = selectors.contact_page(
        user=org.rep, offset=0, limit=50, fields=fields, customer_id=customer.pk
    )
    names = [(c["name"], c["is_active"], c["is_primary"]) for c in page["items"]]
    assert names == [("王五", True, True), ("王五", True, False), ("赵六", False, False)]
    colleague = contacts["colleague"].pk
    assert selectors.contact_page(user=org.rep, offset=0, limit=50, customer_id=colleague) == {
        "items": [],
        "count": 0,
        "count_capped": False,
    }
    inactive = selectors.contact_page(user=org.rep, offset=0, limit=50, active=False)
    assert [c["name"] for c in inactive["items"]] == ["赵六"]


@pytest.mark.parametrize("who", ["rep", "east_manager"])
def test_api_list_runs_a_fixed_number_of_queries(
    org: Organisation,
    contacts: dict[str, Customer],
    who: str,
    django_assert_max_num_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = getattr(org, who)
    client = api_client(user)
    client.get("/api/v1/contacts", {"limit": 1})  # the token's first use writes last_used_at
    for inline in (True, False):
        monkeypatch.setattr(selectors, "INLINE_CUSTOMERS", 2_000 if inline else 1)
        for limit in (1, 3, 50):
            with django_assert_max_num_queries(API_CONTACT_LIST_MAX):
                response = client.get("/api/v1/contacts", {"limit": limit})
            assert response.status_code == 200
            body = response.json()
            assert len(body["items"]) == min(limit, len(expected(user)))
            assert body["count"] == len(expected(user))


@pytest.mark.skipif(connection.vendor != "sqlite", reason="EXPLAIN QUERY PLAN is SQLite's")
@pytest.mark.parametrize("inline", [True, False], ids=["ids", "per-row"])
def test_sqlite_pages_along_the_index(
    org: Organisation,
    contacts: dict[str, Customer],
    monkeypatch: pytest.MonkeyPatch,
    inline: bool,
) -> None:
    if not inline:
        monkeypatch.setattr(selectors, "INLINE_CUSTOMERS", 1)
    queryset = selectors.contact_list(user=org.east_manager)[:50]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " / ".join(str(row[-1]) for row in cursor.fetchall())
    assert "contact_list_order" in plan
    assert "TEMP B-TREE" not in plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="EXPLAIN QUERY PLAN is SQLite's")
@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("name", "contact_name_order"),
        ("-name", "contact_name_order"),
        ("created", "contact_created_order"),
        ("-created", "contact_created_order"),
    ],
)
def test_sqlite_sorts_a_large_scope_along_an_index(
    org: Organisation,
    contacts: dict[str, Customer],
    monkeypatch: pytest.MonkeyPatch,
    sort: str,
    index: str,
) -> None:
    monkeypatch.setattr(selectors, "INLINE_CUSTOMERS", 1)  # a manager's many customers
    filters = selectors.ContactFilters(sort=sort)
    queryset = selectors.contact_list(user=org.east_manager, filters=filters)[:50]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " / ".join(str(row[-1]) for row in cursor.fetchall())
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_api_rows_are_the_validated_detail(
    org: Organisation, contacts: dict[str, Customer]
) -> None:
    """The list answers plain rows without its schema: each is the contact's detail, which
    goes through the schema, masked the same way."""
    held = make_customer(
        org.colleague,
        contacts=[{"name": "郑十", "mobile": "13912345678", "email": "zheng@example.cn"}],
    )
    services.customer_share(actor=org.colleague, customer=held, user=org.rep, can_edit=False)
    client = api_client(org.rep)
    listed = client.get("/api/v1/contacts", {"limit": 100}).json()["items"]
    assert {row["masked"] for row in listed} == {True, False}
    assert any(row["left_at"] for row in listed)
    shown = next(row for row in listed if row["name"] == "郑十")
    assert shown["mobile"] != "13912345678"
    assert shown["email"] != "zheng@example.cn"
    for row in listed:
        assert row == client.get(f"/api/v1/contacts/{row['id']}").json()
