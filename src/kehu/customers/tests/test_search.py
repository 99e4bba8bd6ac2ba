"""The search box: every kind of term, inside the acting user's scope, on both databases."""

from __future__ import annotations

import pytest
from django.db import connection

from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Customer
from kehu.customers.selectors import CustomerFilters
from kehu.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def found(user: object, q: str) -> set[str]:
    queryset = CustomerFilters(q=q).apply(Customer.objects.visible_to(user))
    return set(queryset.values_list("name", flat=True))


def test_search_matches_only_inside_the_scope(org: Organisation) -> None:
    make_customer(
        org.rep,
        name="上海星河电子科技有限公司",
        contacts=[{"name": "王伟", "mobile": "13812345678"}],
    )
    make_customer(org.colleague, name="上海星河物流有限公司")
    make_customer(org.south_rep, name="深圳星河电子有限公司")

    assert found(org.rep, "星河") == {"上海星河电子科技有限公司"}
    assert found(org.east_manager, "星河") == {"上海星河电子科技有限公司", "上海星河物流有限公司"}
    assert found(org.admin, "xhdz") == {"上海星河电子科技有限公司", "深圳星河电子有限公司"}
    # every word must match; digits match the phone whatever the separators
    assert found(org.admin, "星河 物流") == {"上海星河物流有限公司"}
    assert found(org.east_manager, "138-1234 5678") == {"上海星河电子科技有限公司"}
    assert found(org.south_manager, "上海") == set()


def _postgresql_rows(sql: str) -> list[tuple]:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL catalogue setting")
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_postgresql_samples_search_text_finely_for_the_planner() -> None:
    rows = _postgresql_rows(
        "SELECT attstattarget FROM pg_attribute "
        "WHERE attrelid = 'customers_customer'::regclass AND attname = 'search_text'"
    )
    assert rows == [(1000,)]


def test_postgresql_keeps_only_the_pattern_index_the_name_dedup_uses() -> None:
    rows = _postgresql_rows(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'customers_customer' "
        "AND indexdef LIKE '%%pattern_ops%%'"
    )
    assert rows == [("customer_name_key_prefix",)]


def test_searched_pages_keep_sort_offset_and_count(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kehu.core import pagination

    names = [f"星河{letter}贸易有限公司" for letter in "GCAFDBE"]
    for name in names:
        make_customer(org.rep, name=name)
    make_customer(org.rep, name="无关贸易有限公司")
    client = api_client(org.rep)

    def page(**params: object) -> tuple[list[str], int, bool]:
        body = client.get("/api/v1/customers", {"q": "星河", **params}).json()
        return [row["name"] for row in body["items"]], body["count"], body["count_capped"]

    ordered = sorted(names)
    assert page(sort="name", limit=3) == (ordered[:3], 7, False)
    assert page(sort="name", limit=3, offset=6) == (ordered[6:], 7, False)
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)  # more matches than the cap
    assert page(sort="name", limit=2) == (ordered[:2], 5, True)
    assert page(sort="name", limit=2, offset=4) == (ordered[4:6], 7, False)


def test_two_character_terms_match_names_and_contacts_through_their_pairs(
    org: Organisation,
) -> None:
    # Two Han characters have no trigram: they are looked up as their paired spelling
    # (normalize.han_pairs), which the trigram index finds on PostgreSQL.
    make_customer(org.rep, name="上海瑞德电子有限公司", contacts=[{"name": "李明"}])
    make_customer(org.rep, name="上海德瑞机械有限公司", contacts=[{"name": "明李"}])
    make_customer(org.rep, name="杭州瑞", contacts=[{"name": "德华"}])  # 瑞 | 德: two runs
    assert found(org.rep, "瑞德") == {"上海瑞德电子有限公司"}
    assert found(org.rep, "李明") == {"上海瑞德电子有限公司"}
    assert found(org.rep, "ruide") == {"上海瑞德电子有限公司"}  # the pinyin still matches
    assert found(org.rep, "瑞") == {"上海瑞德电子有限公司", "上海德瑞机械有限公司", "杭州瑞"}
    queryset = CustomerFilters(q="瑞德").apply(Customer.objects.all())
    assert "瑞x德" in str(queryset.query)


def test_migration_adds_the_pairs_to_existing_search_texts(org: Organisation) -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("kehu.customers.migrations.0010_search_text_han_pairs")
    customer = make_customer(org.rep, name="上海瑞德电子有限公司", contacts=[{"name": "李明"}])
    current = Customer.objects.get(pk=customer.pk).search_text
    before_pairs = current[: current.index(" 上x海")]
    Customer.objects.filter(pk=customer.pk).update(search_text=before_pairs)
    migration.add_han_pairs(apps, None)
    migration.add_han_pairs(apps, None)  # a second run changes nothing
    assert Customer.objects.get(pk=customer.pk).search_text == current
    assert current.endswith("上x海x瑞x德x电x子x有x限x公x司 李x明")


def test_postgresql_has_the_scope_columns_beside_the_key() -> None:
    # Rows scoped by their customer check it index-only (migration 0011).
    rows = _postgresql_rows("SELECT indexdef FROM pg_indexes WHERE indexname = 'customer_scope'")
    assert [definition.split(" USING ")[1] for (definition,) in rows] == [
        "btree (id) INCLUDE (owner_id, department_id)"
    ]
