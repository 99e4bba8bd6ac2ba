"""Custom fields (自定义字段) on customers through the services and the API: definitions and
their validation, values of every type, 422 naming the field, required fields on create but
not on old records, roles and masking, filters on the field's expression index, history,
key renames refused once data exists, soft delete, restore and purge."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from kehu.core import custom_fields as core_fields
from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.testing.factories import Organisation, api_client, index_names
from kehu.customers import services as customers
from kehu.customers.models import Customer
from kehu.customers.tests.factories import make_customer
from kehu.integrations.models import CustomField
from kehu.integrations.services import custom_fields as services

pytestmark = pytest.mark.django_db
BASE = "/api/v1/customers"


def define(org: Organisation, **data: Any) -> CustomField:
    values: dict[str, Any] = {"kind": "customer", "type": "text", "label_en": "", **data}
    values.setdefault("label_zh", values["key"])
    return services.custom_field_create(actor=org.admin, data=values)


def level(org: Organisation, **data: Any) -> CustomField:
    return define(
        org,
        key="dealer_level",
        label_zh="经销商级别",
        label_en="Dealer level",
        type="choice",
        choices=["一级", "二级", "三级"],
        filterable=True,
        **data,
    )


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def patch(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def test_definitions_are_validated_and_admin_only(org: Organisation) -> None:
    with pytest.raises(Forbidden):
        services.custom_field_create(
            actor=org.rep, data={"kind": "customer", "key": "x", "label_zh": "x", "type": "text"}
        )
    bad = {
        "kind": "planet",
        "key": "9 bad",
        "label_zh": "",
        "type": "colour",
        "see_roles": ["king"],
        "order": -1,
    }
    with pytest.raises(InvalidInput) as raised:
        services.custom_field_create(actor=org.admin, data=bad)
    assert set(raised.value.errors) == {"kind", "key", "label_zh", "type", "see_roles", "order"}
    with pytest.raises(InvalidInput) as raised:
        define(org, key="level", type="choice", choices=[])
    assert "choices" in raised.value.errors
    with pytest.raises(InvalidInput) as raised:
        define(org, key="notes2", type="long_text", filterable=True)
    assert "filterable" in raised.value.errors
    define(org, key="level", type="choice", choices=["A", "B"])
    with pytest.raises(InvalidInput) as raised:
        define(org, key="level")
    assert "key" in raised.value.errors
    assert CustomField.objects.count() == 1


def test_values_of_every_type_through_the_api(org: Organisation) -> None:
    define(org, key="model_no", label_zh="设备型号")
    define(org, key="memo", type="long_text")
    define(org, key="units", type="number")
    define(org, key="deposit", type="money")
    define(org, key="signed_on", type="date")
    level(org)
    define(org, key="lines", type="multi_choice", choices=["泵", "阀", "管"])
    define(org, key="vip", type="yes_no")
    define(org, key="engineer", type="user")
    define(org, key="portal", type="url")
    values = {
        "model_no": "KX-200",
        "memo": "第一行\n第二行",
        "units": "12",
        "deposit": 1234.5,
        "signed_on": "2026-11-30",
        "dealer_level": "二级",
        "lines": ["管", "泵"],
        "vip": True,
        "engineer": org.colleague.pk,
        "portal": "https://erp.example.cn/c/1",
    }
    client = api_client(org.rep)
    response = post(client, BASE, {"name": "上海泵阀有限公司", "custom": values})
    assert response.status_code == 201, response.content
    shown = response.json()["custom"]
    assert shown == {
        **values,
        "units": 12,
        "deposit": 1234.5,
        "lines": ["泵", "管"],  # in the order of the choices
    }
    customer = Customer.objects.get(pk=response.json()["id"])
    assert customer.custom["dealer_level"] == "二级"
    # the list shows them too
    listed = client.get(BASE).json()["items"]
    assert listed[0]["custom"] == shown
    # a PATCH changes only the keys it sends; null empties a field
    url = f"{BASE}/{customer.pk}"
    response = patch(
        client, url, {"version": customer.version, "custom": {"units": None, "vip": False}}
    )
    assert response.status_code == 200, response.content
    assert response.json()["custom"]["units"] is None
    assert response.json()["custom"]["vip"] is False
    assert response.json()["custom"]["model_no"] == "KX-200"
    # the OpenAPI document describes custom as an object
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert schema["CustomerOut"]["properties"]["custom"]["type"] == "object"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("units", "twelve"),
        ("units", True),
        ("signed_on", "30/11/2026"),
        ("dealer_level", "四级"),
        ("lines", ["泵", "钻"]),
        ("vip", "maybe"),
        ("engineer", 10**12),
        ("portal", "ftp://erp.example.cn"),
        ("model_no", {"a": 1}),
        ("unknown_key", "x"),
    ],
)
def test_bad_values_answer_422_naming_the_field(org: Organisation, key: str, value: Any) -> None:
    define(org, key="model_no")
    define(org, key="units", type="number")
    define(org, key="signed_on", type="date")
    level(org)
    define(org, key="lines", type="multi_choice", choices=["泵", "阀"])
    define(org, key="vip", type="yes_no")
    define(org, key="engineer", type="user")
    define(org, key="portal", type="url")
    client = api_client(org.rep)
    response = post(client, BASE, {"name": "上海泵阀有限公司", "custom": {key: value}})
    assert response.status_code == 422, response.content
    body = response.json()
    assert set(body) >= {"detail", "code", "errors"}
    assert list(body["errors"]) == [f"custom.{key}"]
    assert not Customer.objects.exists()
    response = post(client, BASE, {"name": "上海泵阀有限公司", "custom": ["not", "an", "object"]})
    assert response.status_code == 422


def test_required_on_create_but_old_records_stay_valid(org: Organisation) -> None:
    old = make_customer(org.rep, name="老客户有限公司")
    define(org, key="contract_no", label_zh="合同编号", required=True)
    client = api_client(org.rep)
    response = post(client, BASE, {"name": "新客户有限公司"})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["custom.contract_no"]
    # an old record is edited without touching custom values: still valid
    url = f"{BASE}/{old.pk}"
    response = patch(client, url, {"version": old.version, "notes": "回访"})
    assert response.status_code == 200, response.content
    # an edit of its custom values must fill the required one
    version = response.json()["version"]
    response = patch(client, url, {"version": version, "custom": {}})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["custom.contract_no"]
    response = patch(client, url, {"version": version, "custom": {"contract_no": "HT-001"}})
    assert response.status_code == 200


def test_required_binds_only_roles_that_may_fill_it(org: Organisation) -> None:
    # A field only managers may edit (or see) cannot hold a rep's create back.
    define(org, key="audit_mark", required=True, edit_roles=["manager"])
    define(org, key="internal_no", required=True, see_roles=["manager"])
    response = post(api_client(org.rep), BASE, {"name": "新客户有限公司", "custom": {}})
    assert response.status_code == 201, response.content
    response = post(api_client(org.east_manager), BASE, {"name": "另一客户有限公司", "custom": {}})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"custom.audit_mark", "custom.internal_no"}


def test_roles_see_and_edit_and_sensitive_values_are_masked(org: Organisation) -> None:
    define(org, key="floor_price", type="money", sensitive=True)
    define(org, key="internal", see_roles=["manager"])
    define(org, key="audit_mark", edit_roles=["manager"])
    customer = make_customer(org.rep, name="上海泵阀有限公司")
    customers.customer_update(
        actor=org.admin,
        customer=customer,
        changes={"custom": {"floor_price": 900, "internal": "内部", "audit_mark": "ok"}},
    )
    rep = api_client(org.rep).get(f"{BASE}/{customer.pk}").json()["custom"]
    assert rep == {"floor_price": 900, "audit_mark": "ok"}  # internal: manager only
    # marketing reads every customer, without sensitive values
    marketing = api_client(org.marketing).get(f"{BASE}/{customer.pk}").json()["custom"]
    assert marketing["floor_price"] is None
    listed = api_client(org.marketing).get(BASE).json()["items"]
    assert listed[0]["custom"]["floor_price"] is None
    manager = api_client(org.east_manager).get(f"{BASE}/{customer.pk}").json()["custom"]
    assert manager == {"floor_price": 900, "internal": "内部", "audit_mark": "ok"}
    customer.refresh_from_db()
    for changes in ({"audit_mark": "changed"}, {"internal": "x"}):
        with pytest.raises(InvalidInput):
            customers.customer_update(actor=org.rep, customer=customer, changes={"custom": changes})
    customer.refresh_from_db()
    assert customer.custom["audit_mark"] == "ok"


def test_filter_reads_the_fields_index(org: Organisation) -> None:
    field = level(org)
    assert f"custom_field_{field.pk}" in index_names(Customer)
    first = make_customer(org.rep, name="一级经销商有限公司", custom={"dealer_level": "一级"})
    make_customer(org.rep, name="二级经销商有限公司", custom={"dealer_level": "二级"})
    make_customer(org.rep, name="无级别有限公司")
    client = api_client(org.rep)
    response = client.get(BASE, {"cf": "dealer_level:一级"})
    assert [row["id"] for row in response.json()["items"]] == [first.pk]
    assert client.get(BASE, {"cf": "dealer_level:四级"}).status_code == 422
    assert client.get(BASE, {"cf": "nope:1"}).status_code == 422
    spec = core_fields.field_of("customer", "dealer_level")
    assert spec is not None
    queryset = Customer.objects.filter(core_fields.filter_q(spec, "一级"))
    sql, params = queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert f"custom_field_{field.pk}" in plan, plan
    # a rep's filtered list reads the (owner, value) index (PostgreSQL's planner takes the
    # plain owner index on a table of three rows; bench/RESULTS.md round r shows it at size L)
    assert f"custom_field_{field.pk}_owner" in index_names(Customer)
    if connection.vendor == "sqlite":
        mine = Customer.objects.filter(owner=org.rep).filter(core_fields.filter_q(spec, "一级"))
        sql, params = mine.values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert f"custom_field_{field.pk}_owner" in plan, plan
    # unmarking drops the indexes, marking again creates them
    field = services.custom_field_update(
        actor=org.admin, field=field, changes={"filterable": False}, version=field.version
    )
    assert not {n for n in index_names(Customer) if n.startswith(f"custom_field_{field.pk}")}
    assert client.get(BASE, {"cf": "dealer_level:一级"}).status_code == 422
    services.custom_field_update(
        actor=org.admin, field=field, changes={"filterable": True}, version=field.version
    )
    assert {f"custom_field_{field.pk}", f"custom_field_{field.pk}_owner"} <= index_names(Customer)


def test_list_filtered_on_a_custom_field_is_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    level(org)
    define(org, key="vip", type="yes_no", filterable=True)
    for number in range(6):
        make_customer(
            org.rep, name=f"经销商{number}有限公司", custom={"dealer_level": "一级", "vip": True}
        )
    client = api_client(org.rep)
    client.get(BASE)  # the token's first use
    with django_assert_max_num_queries(12):
        response = client.get(BASE, {"cf": ["dealer_level:一级", "vip:是"]})
    assert response.json()["count"] == 6


def test_search_finds_text_values(org: Organisation) -> None:
    define(org, key="model_no")
    define(org, key="secret_code", sensitive=True)
    found = make_customer(
        org.rep, name="上海泵阀有限公司", custom={"model_no": "KX9000", "secret_code": "ZZ777"}
    )
    client = api_client(org.rep)
    assert [r["id"] for r in client.get(BASE, {"q": "KX9000"}).json()["items"]] == [found.pk]
    assert client.get(BASE, {"q": "ZZ777"}).json()["items"] == []


def test_history_shows_the_custom_change(org: Organisation) -> None:
    level(org)
    customer = make_customer(org.rep, name="上海泵阀有限公司")
    customers.customer_update(
        actor=org.rep, customer=customer, changes={"custom": {"dealer_level": "一级"}}
    )
    entries = api_client(org.rep).get(f"{BASE}/{customer.pk}/history").json()
    changes = [c for entry in entries for c in entry["changes"]]
    assert {"field": "custom.dealer_level", "label": "经销商级别"} | {
        "old": None,
        "new": "一级",
    } in [{k: change[k] for k in ("field", "label", "old", "new")} for change in changes] or any(
        c["field"] == "custom.dealer_level" and c["new"] == "一级" for c in changes
    )


def test_key_rename_refused_once_data_exists(org: Organisation) -> None:
    field = define(org, key="model_no")
    field = services.custom_field_update(
        actor=org.admin, field=field, changes={"key": "device_model"}, version=field.version
    )
    make_customer(org.rep, name="上海泵阀有限公司", custom={"device_model": "KX"})
    with pytest.raises(InvalidInput) as raised:
        services.custom_field_update(
            actor=org.admin, field=field, changes={"key": "model"}, version=field.version
        )
    assert list(raised.value.errors) == ["key"]
    with pytest.raises(InvalidInput):
        services.custom_field_update(
            actor=org.admin, field=field, changes={"type": "number"}, version=field.version
        )
    # labels, help and order change freely
    services.custom_field_update(
        actor=org.admin, field=field, changes={"label_en": "Model"}, version=field.version
    )


def test_soft_delete_restore_and_purge(org: Organisation) -> None:
    field = level(org)
    customer = make_customer(org.rep, name="上海泵阀有限公司", custom={"dealer_level": "一级"})
    client = api_client(org.rep)
    services.custom_field_delete(actor=org.admin, field=field)
    assert f"custom_field_{field.pk}" not in index_names(Customer)
    assert client.get(f"{BASE}/{customer.pk}").json()["custom"] == {}
    # an edit while it is deleted keeps the value
    customers.customer_update(actor=org.rep, customer=customer, changes={"notes": "x"})
    services.custom_field_restore(actor=org.admin, field=field)
    assert client.get(f"{BASE}/{customer.pk}").json()["custom"] == {"dealer_level": "一级"}
    assert f"custom_field_{field.pk}" in index_names(Customer)
    services.custom_field_delete(actor=org.admin, field=field)
    later = timezone.now() + timedelta(days=services.RESTORE_DAYS + 1)
    with time_machine.travel(later, tick=False):
        with pytest.raises(InvalidInput):
            services.custom_field_restore(actor=org.admin, field=field)
        assert services.custom_fields_purge() == 1
    assert not CustomField.objects.exists()
    customer.refresh_from_db()
    assert customer.custom == {}


@pytest.mark.parametrize(
    ("kind", "url", "actor", "body"),
    [
        ("lead", "/api/v1/leads", "rep", {"contact_name": "王伟", "mobile": "13812345678"}),
        ("opportunity", "/api/v1/opportunities", "rep", {"name": "泵站改造"}),
        ("ticket", "/api/v1/tickets", "admin", {"subject": "泵漏水", "content": "三号泵漏水"}),
        ("contact", "/api/v1/contacts", "rep", {"name": "李娜"}),
    ],
)
def test_other_kinds_take_and_return_custom_values(
    org: Organisation, kind: str, url: str, actor: str, body: dict[str, Any]
) -> None:
    define(org, kind=kind, key="model_no", label_zh="设备型号", required=True)
    define(org, kind=kind, key="units", type="number")
    customer = make_customer(org.rep, name="上海泵阀有限公司")
    body = dict(body)
    if kind == "lead":
        body["source"] = "website"
    if kind in ("opportunity", "contact"):
        body["customer_id"] = customer.pk
    client = api_client(getattr(org, actor))
    missing = post(client, url, body)
    assert missing.status_code == 422, missing.content
    assert list(missing.json()["errors"]) == ["custom.model_no"]
    wrong = post(client, url, {**body, "custom": {"model_no": "KX", "units": "many"}})
    assert wrong.status_code == 422
    assert list(wrong.json()["errors"]) == ["custom.units"]
    created = post(client, url, {**body, "custom": {"model_no": "KX", "units": 3}})
    assert created.status_code == 201, created.content
    assert created.json()["custom"] == {"model_no": "KX", "units": 3}
    record_url = f"{url}/{created.json()['id']}"
    changed = patch(
        client, record_url, {"version": created.json()["version"], "custom": {"units": 4}}
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["custom"] == {"model_no": "KX", "units": 4}
    assert client.get(record_url).json()["custom"]["units"] == 4
    # a record kind's fields stay its own
    assert client.get(f"{BASE}/{customer.pk}").json()["custom"] == {}


def test_contacts_sent_with_a_new_customer_carry_their_custom_values(
    org: Organisation,
) -> None:
    define(org, kind="contact", key="hobby", label_zh="爱好")
    define(org, kind="contact", key="age", type="number")
    client = api_client(org.rep)
    contact = {"name": "李娜", "mobile": "13812345678"}
    wrong = post(
        client,
        BASE,
        {"name": "上海泵阀有限公司", "contacts": [{**contact, "custom": {"age": "x"}}]},
    )
    assert wrong.status_code == 422
    assert list(wrong.json()["errors"]) == ["contacts[0].custom.age"]
    assert not Customer.objects.filter(name="上海泵阀有限公司").exists()
    body = {"name": "上海泵阀有限公司", "contacts": [{**contact, "custom": {"hobby": "钓鱼"}}]}
    created = post(client, BASE, body)
    assert created.status_code == 201, created.content
    assert created.json()["contacts"][0]["custom"] == {"hobby": "钓鱼", "age": None}


def test_import_maps_custom_columns_and_checks_their_values(
    org: Organisation, tmp_path: Any
) -> None:
    from kehu.transfer import engine
    from kehu.transfer import services as transfer
    from kehu.transfer.tests.helpers import HEADERS, customer_rows, write_xlsx

    level(org)
    define(org, key="lines", type="multi_choice", choices=["泵", "阀", "管"])
    define(org, key="units", type="number")
    # the export's headers (经销商级别 / Dealer level) and the bare key both map
    headers = [*HEADERS, "经销商级别 / Dealer level", "lines", "units"]
    rows = [
        [*row, extra[0], extra[1], extra[2]]
        for row, extra in zip(
            customer_rows(3),
            [("一级", "泵、管", 12), ("五级", "泵", 1), ("二级", "", "")],
            strict=True,
        )
    ]
    path = write_xlsx(tmp_path / "a.xlsx", rows, headers=headers)
    job = transfer.import_job_create(actor=org.admin, kind="customers", path=path)
    job.dry_run = False
    job.save()
    job = engine.run_job(job)
    assert job.status == "done", job.message
    assert job.counts["invalid"] == 1
    assert job.errors[0]["line"] == 3
    assert job.errors[0]["column"] == "经销商级别 / Dealer level"
    stored = sorted(
        (c.custom for c in Customer.objects.all()), key=lambda c: c.get("dealer_level", "")
    )
    assert stored == [
        {"dealer_level": "一级", "lines": ["泵", "管"], "units": 12},
        {"dealer_level": "二级"},
    ]


def test_a_merge_fills_the_survivors_empty_custom_fields(org: Organisation) -> None:
    level(org)
    define(org, key="model_no")
    keep = make_customer(org.rep, name="上海泵阀有限公司", custom={"dealer_level": "一级"})
    gone = make_customer(
        org.rep, name="上海泵阀公司", custom={"dealer_level": "二级", "model_no": "KX"}
    )
    customers.customer_merge(actor=org.east_manager, survivor=keep, merged=gone)
    keep.refresh_from_db()
    assert keep.custom == {"dealer_level": "一级", "model_no": "KX"}
