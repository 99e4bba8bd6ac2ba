"""The contact list's search box reads the contacts' custom values (自定义字段), through the
stored ``Contact.custom_text`` and its index (FTS5 on SQLite, pg_trgm on PostgreSQL); the
stored search texts of contacts and customers follow a field's definition when it changes.

A stored text serves every user, so it holds the text-like values of fields that are not
sensitive and that every role sees (``custom_fields.stored_searchable``)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kehu.core import custom_fields
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.customers.selectors import CustomerFilters, contact_list, contact_search
from kehu.customers.tasks import refresh_custom_search
from kehu.customers.tests.factories import make_customer
from kehu.integrations.models import CustomField
from kehu.integrations.services import custom_fields as services
from kehu.integrations.tests.test_custom_field_lists import (
    CONTACTS,
    api_count,
    define,
    fields_and_records,
    listed,
    signed_in,
)
from kehu.integrations.tests.test_external_ids import post

pytestmark = pytest.mark.django_db

KEYS = ("project", "site", "regions", "level", "units", "codeword", "board_note")


@pytest.fixture
def stored(org: Organisation) -> None:
    """The lists' test records as contacts; their values are written without the services
    (a rep may not write a field only managers see), so the job writes their texts."""
    fields_and_records(org, CONTACTS)
    for key in KEYS:
        customer_services.custom_search_refresh(kind="contact", key=key)


def names(user: Any, q: str) -> set[str]:
    return set(contact_list(user=user, q=q).values_list("name", flat=True))


def test_contact_search_finds_custom_text_values(org: Organisation, stored: None) -> None:
    client = signed_in(org.rep)
    assert listed(client, CONTACTS, {"q": "蓝鲸"}) == {"甲记录"}  # two Han characters
    assert listed(client, CONTACTS, {"q": "蓝鲸计划"}) == {"甲记录"}
    assert listed(client, CONTACTS, {"q": "华东经销"}) == {"乙记录"}  # an item of a multiple choice
    assert listed(client, CONTACTS, {"q": "EXPORT"}) == {"乙记录"}  # case folded
    assert listed(client, CONTACTS, {"q": "pump.example"}) == {"丙记录"}  # a URL
    assert listed(client, CONTACTS, {"q": "二级"}) == {"乙记录"}  # a choice
    assert listed(client, CONTACTS, {"q": "4242"}) == set()  # a number is not text
    assert listed(client, CONTACTS, {"q": "机密暗号"}) == set()  # sensitive: never searched
    assert listed(client, CONTACTS, {"q": "隐藏代号"}) == set()  # a field the rep may not see
    assert listed(client, CONTACTS, {"q": "甲记录"}) == {"甲记录"}  # the name still
    assert api_count(org, CONTACTS, {"q": "蓝鲸"}) == 1
    assert api_count(org, CONTACTS, {"q": "华东经销"}) == 1
    assert api_count(org, CONTACTS, {"q": "机密暗号"}) == 0
    # a stored text serves everyone: a field only managers see is not searched for them either
    assert names(org.east_manager, "隐藏代号") == set()
    assert names(org.east_manager, "蓝鲸") == {"甲记录"}
    # nor outside the user's scope
    assert names(org.south_manager, "蓝鲸") == set()


def test_search_by_custom_values_adds_no_query(org: Organisation, stored: None) -> None:
    client = signed_in(org.rep)
    client.get(reverse(CONTACTS.page), {"q": "warm-up"})
    counts = []
    for text in ("甲记录", "蓝鲸计划", "蓝鲸"):  # the name, a custom value, two Han characters
        with CaptureQueriesContext(connection) as queries:
            assert listed(client, CONTACTS, {"q": text}) == {"甲记录"}
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    # SQLite looks two Han characters up in both FTS tables, each bounded by a capped count
    assert counts[2] == counts[0] + (connection.vendor == "sqlite"), counts


def test_written_values_are_found_at_once(org: Organisation) -> None:
    define(org, "contact", "region", type="choice", choices=["华东", "华南"])
    define(org, "contact", "project")
    customer = make_customer(org.rep, contacts=[{"name": "钱一", "custom": {"region": "华东"}}])
    added = customer_services.contact_create(
        actor=org.rep, customer=customer, data={"name": "孙二", "custom": {"project": "Orca-7"}}
    )
    assert names(org.rep, "华东") == {"钱一"}
    assert names(org.rep, "orca-7") == {"孙二"}
    customer_services.contact_update(
        actor=org.rep, contact=added, changes={"custom": {"project": "Narwhal"}}
    )
    assert names(org.rep, "orca") == set()
    assert names(org.rep, "narwhal") == {"孙二"}
    assert Contact.objects.get(pk=added.pk).custom_text == "narwhal"


def test_contacts_written_in_bulk_are_found(org: Organisation) -> None:
    define(org, "contact", "badge", label_en="Badge")
    records = [
        {
            "system": "kingdee",
            "id": f"C{n}",
            "data": {
                "name": f"批量{n}号贸易有限公司",
                "contacts": [{"name": f"批量联系人{n}", "custom": {"badge": f"工牌-{n}A"}}],
            },
        }
        for n in range(3)
    ]
    answer = post(api_client(org.admin), "/customers/upsert", {"records": records})
    assert [r["result"] for r in answer.json()["results"]] == ["created"] * 3, answer.content
    assert names(org.admin, "工牌-1a") == {"批量联系人1"}


def _contact_with(org: Organisation, **custom: Any) -> Contact:
    customer = make_customer(org.rep)
    contact = customer_services.contact_create(
        actor=org.rep, customer=customer, data={"name": "周三", "custom": custom}
    )
    return contact


Capture = Callable[..., Any]


def test_a_definition_change_rewrites_contacts_texts(
    org: Organisation, django_capture_on_commit_callbacks: Capture
) -> None:
    field = define(org, "contact", "project")
    _contact_with(org, project="蓝鲸计划")

    def change(**changes: Any) -> None:
        nonlocal field
        with django_capture_on_commit_callbacks(execute=True):
            field = services.custom_field_update(actor=org.admin, field=field, changes=changes)

    assert names(org.rep, "蓝鲸") == {"周三"}
    change(sensitive=True)
    assert names(org.rep, "蓝鲸") == set()
    change(sensitive=False)
    assert names(org.rep, "蓝鲸") == {"周三"}
    change(see_roles=["manager"])
    assert names(org.rep, "蓝鲸") == set()
    change(see_roles=[])
    with django_capture_on_commit_callbacks(execute=True):
        services.custom_field_delete(actor=org.admin, field=field)
    assert names(org.rep, "蓝鲸") == set()
    with django_capture_on_commit_callbacks(execute=True):
        services.custom_field_restore(actor=org.admin, field=field)
    assert names(org.rep, "蓝鲸计划") == {"周三"}


def test_a_label_change_leaves_the_texts_alone(
    org: Organisation, django_capture_on_commit_callbacks: Capture
) -> None:
    field = define(org, "contact", "project")
    _contact_with(org, project="蓝鲸计划")
    with django_capture_on_commit_callbacks() as callbacks:
        services.custom_field_update(actor=org.admin, field=field, changes={"label_en": "Plan"})
    # the definitions' cache is dropped on commit; no rewrite job is queued
    assert not any(getattr(c, "func", None) is refresh_custom_search for c in callbacks)


def customers(user: Any, q: str) -> set[str]:
    queryset = CustomerFilters(q=q).apply(Customer.objects.visible_to(user))
    return set(queryset.values_list("name", flat=True))


def test_a_definition_change_rewrites_customers_texts(
    org: Organisation, django_capture_on_commit_callbacks: Capture
) -> None:
    field = define(org, "customer", "project")
    make_customer(org.rep, name="深蓝海洋有限公司", custom={"project": "北极星工程"})
    assert customers(org.rep, "北极星") == {"深蓝海洋有限公司"}
    with django_capture_on_commit_callbacks(execute=True):
        services.custom_field_update(actor=org.admin, field=field, changes={"sensitive": True})
    assert customers(org.rep, "北极星") == set()
    assert customers(org.rep, "深蓝海洋") == {"深蓝海洋有限公司"}  # the rest of the text stays
    assert customer_services.custom_search_refresh(kind="customer", key="project") == 0


def test_customers_stored_text_leaves_out_fields_some_roles_see(org: Organisation) -> None:
    define(org, "customer", "board_note", see_roles=["manager"])
    define(org, "customer", "project")
    customer = make_customer(org.rep, name="远帆贸易有限公司")
    Customer.objects.filter(pk=customer.pk).update(
        custom={"board_note": "隐藏代号", "project": "公开代号"}
    )
    customer_services.custom_search_refresh(kind="customer", key="board_note")
    assert customers(org.east_manager, "隐藏代号") == set()
    assert customers(org.east_manager, "公开代号") == {"远帆贸易有限公司"}
    spec = next(s for s in custom_fields.definitions("customer") if s.key == "board_note")
    assert custom_fields.searchable(spec)
    assert not custom_fields.stored_searchable(spec)


def test_refresh_refuses_a_kind_without_stored_text() -> None:
    with pytest.raises(ValueError, match="no stored search text"):
        customer_services.custom_search_refresh(kind="lead", key="project")


def test_migration_fills_existing_contacts_texts(org: Organisation) -> None:
    migration = import_module("kehu.integrations.migrations.0004_contact_custom_text")
    define(org, "contact", "project")
    define(org, "contact", "regions", type="multi_choice", choices=["华东经销", "Export"])
    define(org, "contact", "codeword", sensitive=True)
    define(org, "contact", "board_note", see_roles=["manager"])
    contact = _contact_with(org, project="蓝鲸计划", regions=["Export", "华东经销"])
    expected = Contact.objects.get(pk=contact.pk).custom_text
    assert expected == "蓝鲸计划 华东经销 export 蓝x鲸x计x划 华x东x经x销"  # choices in order
    Contact.objects.filter(pk=contact.pk).update(
        custom={**contact.custom, "codeword": "机密", "board_note": "隐藏"}, custom_text=""
    )
    migration.fill_custom_text(apps, None)
    migration.fill_custom_text(apps, None)  # a second run changes nothing
    assert Contact.objects.get(pk=contact.pk).custom_text == expected
    CustomField.objects.all().delete()
    migration.fill_custom_text(apps, None)  # no searchable field: nothing to do
    assert Contact.objects.get(pk=contact.pk).custom_text == expected


def test_postgresql_reads_the_custom_text_from_its_trigram_index(
    org: Organisation, stored: None
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's pg_trgm index")
    listed = contact_search(Contact.objects.all(), "蓝鲸计划")
    sql, params = listed.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: the planner would scan
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on contact_custom_text_trgm" in plan, plan
