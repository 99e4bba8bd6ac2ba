"""Shares and pool grants are read once and inlined, so the scope stays index-friendly."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.accounts.models import User
from kehu.core import access
from kehu.core.testing.factories import Organisation
from kehu.customers.models import Customer, CustomerShare

pytestmark = pytest.mark.django_db
_numbers = itertools.count(1)


def customer_of(owner: User) -> Customer:
    return Customer.objects.create(
        number=f"G-{next(_numbers):05d}",
        name=f"客户{next(_numbers)}",
        owner=owner,
        department=owner.department,
    )


def scope_sql(user: User, *, write: bool = False) -> str:
    queryset = Customer.objects.editable_by(user) if write else Customer.objects.visible_to(user)
    return str(queryset.query).lower()


def visible_ids(user: User) -> set[int]:
    return set(Customer.objects.visible_to(user).values_list("pk", flat=True))


def pool_with(org: Organisation, customer: Customer) -> None:
    from kehu.pools import services as pools

    pool = pools.pool_create(actor=org.admin, data={"name": "华东公海"}, departments=[org.east])
    pools.pool_put(actor=org.admin, customer_id=customer.pk, pool_id=pool.pk, reason="长期未跟进")


def test_rep_without_grants_gets_a_plain_owner_filter(org: Organisation) -> None:
    own = customer_of(org.rep)
    customer_of(org.colleague)
    sql = scope_sql(org.rep)
    assert "customershare" not in sql
    assert "poolentry" not in sql
    assert " or " not in sql
    assert visible_ids(org.rep) == {own.pk}


def test_shared_ids_are_inlined_and_keep_read_write_semantics(org: Organisation) -> None:
    own = customer_of(org.rep)
    read_only = customer_of(org.colleague)
    writable = customer_of(org.colleague)
    CustomerShare.objects.create(customer=read_only, user=org.rep, can_edit=False)
    CustomerShare.objects.create(customer=writable, user=org.rep, can_edit=True)

    assert "customershare" not in scope_sql(org.rep)
    assert visible_ids(org.rep) == {own.pk, read_only.pk, writable.pk}
    editable = set(Customer.objects.editable_by(org.rep).values_list("pk", flat=True))
    assert editable == {own.pk, writable.pk}


def test_grants_are_read_in_one_query_when_the_queryset_is_built(org: Organisation) -> None:
    shared = customer_of(org.colleague)
    CustomerShare.objects.create(customer=shared, user=org.rep)
    with CaptureQueriesContext(connection) as built:
        queryset = Customer.objects.visible_to(org.rep)
    grant_reads = [q for q in built.captured_queries if "customershare" in q["sql"].lower()]
    assert len(grant_reads) == 1
    assert "poolentry" in grant_reads[0]["sql"].lower()  # shares and pools in one UNION
    assert shared.pk in set(queryset.values_list("pk", flat=True))


def test_pool_member_sees_pooled_customers_through_the_inlined_list(org: Organisation) -> None:
    pooled = customer_of(org.colleague)
    pool_with(org, pooled)
    assert "poolentry" not in scope_sql(org.rep)
    assert pooled.pk in visible_ids(org.rep)
    assert pooled.pk not in visible_ids(org.south_rep)
    assert not Customer.objects.editable_by(org.rep).filter(pk=pooled.pk).exists()
    assert Customer.objects.editable_by(org.east_manager).filter(pk=pooled.pk).exists()


def test_manager_scope_combines_departments_and_grants(org: Organisation) -> None:
    team = customer_of(org.hangzhou_rep)
    south = customer_of(org.south_rep)
    shared_south = customer_of(org.south_rep)
    CustomerShare.objects.create(customer=shared_south, user=org.east_manager)
    assert "customershare" not in scope_sql(org.east_manager)
    assert visible_ids(org.east_manager) == {team.pk, shared_south.pk}
    assert south.pk in visible_ids(org.south_manager)


def test_visible_parts_split_the_scope_without_overlap(org: Organisation) -> None:
    team = customer_of(org.hangzhou_rep)
    shared_south = customer_of(org.south_rep)
    CustomerShare.objects.create(customer=shared_south, user=org.east_manager)
    own_elsewhere = customer_of(org.south_rep)
    Customer.objects.filter(pk=own_elsewhere.pk).update(owner=org.east_manager)
    own_without_department = customer_of(org.south_rep)
    Customer.objects.filter(pk=own_without_department.pk).update(
        owner=org.east_manager, department=None
    )
    customer_of(org.south_rep)

    for user in (org.east_manager, org.south_manager, org.rep, org.admin, org.marketing):
        parts = [
            set(part.values_list("pk", flat=True)) for part in Customer.objects.visible_parts(user)
        ]
        assert sum(len(part) for part in parts) == len(set().union(*parts))
        assert set().union(*parts) == visible_ids(user)
        full = [
            set(part.values_list("pk", flat=True))
            for part in Customer.objects.full_access_parts(user)
        ]
        policy = Customer.access_policy
        fully_seen = Customer.objects.visible_to(user)
        assert set().union(*full) == {
            customer.pk for customer in fully_seen if policy.has_full_access(user, customer)
        }
        granted_part = Customer.objects.granted_part(user)
        granted_ids = (
            set() if granted_part is None else set(granted_part.values_list("pk", flat=True))
        )
        assert granted_ids == visible_ids(user) - set().union(*full)
    departments, own, granted = Customer.objects.visible_parts(org.east_manager)
    assert set(departments.values_list("pk", flat=True)) == {team.pk}
    assert set(own.values_list("pk", flat=True)) == {own_elsewhere.pk, own_without_department.pk}
    assert set(granted.values_list("pk", flat=True)) == {shared_south.pk}
    # the departments alone, the owner alone: each one range of an index
    for part in (departments, own):
        assert " or " not in str(part.query).lower()
    assert len(Customer.objects.visible_parts(org.south_rep)) == 1  # no grants: owned only


def test_many_grants_fall_back_to_subqueries_with_the_same_rows(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = customer_of(org.rep)
    shared = [customer_of(org.colleague) for _ in range(3)]
    for customer in shared:
        CustomerShare.objects.create(customer=customer, user=org.rep)
    pooled = customer_of(org.colleague)
    pool_with(org, pooled)
    inlined = visible_ids(org.rep)

    monkeypatch.setattr(access, "INLINE_IDS_MAX", 2)
    assert "customershare" in scope_sql(org.rep)
    assert visible_ids(org.rep) == inlined == {own.pk, pooled.pk, *(c.pk for c in shared)}


def test_a_read_only_request_reads_each_grant_once(org: Organisation) -> None:
    from django.test import Client

    from kehu.core.context import read_only_request

    customer = customer_of(org.rep)
    shared = customer_of(org.colleague)
    CustomerShare.objects.create(customer=shared, user=org.rep)
    client = Client()
    client.force_login(org.rep)
    with CaptureQueriesContext(connection) as page:
        assert client.get(f"/customers/{customer.pk}/").status_code == 200
    customer_grants = [
        q["sql"]
        for q in page.captured_queries
        if "UNION" in q["sql"] and 'FROM "customers_customershare"' in q["sql"]
    ]
    assert len(customer_grants) == 1  # the detail, its timeline and its panels share it
    with read_only_request():
        first = set(Customer.objects.visible_to(org.rep).values_list("pk", flat=True))
        CustomerShare.objects.filter(customer=shared).delete()
        assert set(Customer.objects.visible_to(org.rep).values_list("pk", flat=True)) == first
    assert shared.pk not in visible_ids(org.rep)  # outside a request nothing is kept
