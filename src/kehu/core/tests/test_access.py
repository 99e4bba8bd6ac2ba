"""Row scope and masking: every path that exists answers 404 outside the user's scope."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kehu.accounts.models import User
from kehu.core.access import get_visible_or_404, policy_of
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Customer, CustomerShare

pytestmark = pytest.mark.django_db
_numbers = itertools.count(1)


def customer_of(owner: User, **extra: Any) -> Customer:
    return Customer.objects.create(
        number=f"T-{next(_numbers):05d}",
        name=extra.pop("name", f"{owner.username}的客户"),
        owner=owner,
        department=owner.department,
        annual_budget=extra.pop("annual_budget", 500000),
        **extra,
    )


def visible_ids(user: User) -> set[int]:
    return set(Customer.objects.visible_to(user).values_list("pk", flat=True))


def test_roles_see_their_scope(org: Organisation) -> None:
    own = customer_of(org.rep)
    colleague = customer_of(org.colleague)
    hangzhou = customer_of(org.hangzhou_rep)
    south = customer_of(org.south_rep)
    everything = {own.pk, colleague.pk, hangzhou.pk, south.pk}

    assert visible_ids(org.rep) == {own.pk}
    assert visible_ids(org.east_manager) == {own.pk, colleague.pk, hangzhou.pk}
    assert visible_ids(org.south_manager) == {south.pk}
    assert visible_ids(org.admin) == everything
    assert visible_ids(org.marketing) == everything
    assert visible_ids(org.service) == set()


def test_inactive_and_anonymous_users_see_nothing(org: Organisation) -> None:
    customer_of(org.rep)
    org.rep.is_active = False
    assert visible_ids(org.rep) == set()
    from django.contrib.auth.models import AnonymousUser

    assert not Customer.objects.visible_to(AnonymousUser()).exists()


def test_sharing_grants_read_or_write(org: Organisation) -> None:
    shared = customer_of(org.colleague)
    CustomerShare.objects.create(customer=shared, user=org.rep, can_edit=False)
    assert shared.pk in visible_ids(org.rep)
    assert not Customer.objects.editable_by(org.rep).filter(pk=shared.pk).exists()
    CustomerShare.objects.filter(customer=shared).update(can_edit=True)
    assert Customer.objects.editable_by(org.rep).filter(pk=shared.pk).exists()


def test_marketing_reads_but_cannot_edit(org: Organisation) -> None:
    customer = customer_of(org.rep)
    assert customer.pk in visible_ids(org.marketing)
    assert not Customer.objects.editable_by(org.marketing).exists()


def test_sensitive_fields_only_for_owner_managers_above_and_admin(org: Organisation) -> None:
    customer = customer_of(org.rep)
    policy = policy_of(Customer)
    assert policy.masked_fields(org.rep, customer) == frozenset()
    assert policy.masked_fields(org.east_manager, customer) == frozenset()
    assert policy.masked_fields(org.admin, customer) == frozenset()
    assert "annual_budget" in policy.masked_fields(org.marketing, customer)
    CustomerShare.objects.create(customer=customer, user=org.colleague)
    assert "annual_budget" in policy.masked_fields(org.colleague, customer)


def test_out_of_scope_is_404_not_403(org: Organisation) -> None:
    from django.http import Http404

    other = customer_of(org.colleague)
    with pytest.raises(Http404):
        get_visible_or_404(Customer.objects.all(), org.rep, pk=other.pk)


def test_api_paths_hide_a_colleagues_customer(org: Organisation) -> None:
    own = customer_of(org.rep)
    other = customer_of(org.colleague, name="隐藏的客户")
    client = api_client(org.rep)

    listed = client.get("/api/v1/customers").json()
    assert [item["id"] for item in listed["items"]] == [own.pk]
    assert listed["count"] == 1
    assert client.get(f"/api/v1/customers/{other.pk}").status_code == 404
    assert client.get(f"/api/v1/history/customers.customer/{other.pk}").status_code == 404
    assert client.get(f"/api/v1/customers/{own.pk}").status_code == 200
    assert "隐藏的客户" not in client.get("/api/v1/customers?q=隐藏").content.decode()


def test_ui_paths_hide_a_colleagues_customer(org: Organisation) -> None:
    other = customer_of(org.colleague, name="隐藏的客户")
    client = Client()
    client.force_login(org.rep)
    assert client.get(f"/customers/{other.pk}/").status_code == 404
    assert client.get(f"/history/customers.customer/{other.pk}/").status_code == 404
    assert "隐藏的客户" not in client.get("/customers/").content.decode()


def test_api_masks_sensitive_fields(org: Organisation) -> None:
    customer = customer_of(org.rep, annual_budget=880000)
    as_marketing = api_client(org.marketing).get(f"/api/v1/customers/{customer.pk}").json()
    as_owner = api_client(org.rep).get(f"/api/v1/customers/{customer.pk}").json()
    assert as_marketing["annual_budget"] is None
    assert float(as_owner["annual_budget"]) == 880000


def test_history_of_unscoped_models_is_admin_only(org: Organisation) -> None:
    path = f"/api/v1/history/accounts.department/{org.east.pk}"
    assert api_client(org.rep).get(path).status_code == 404
    assert api_client(org.admin).get(path).status_code == 200
    assert api_client(org.admin).get("/api/v1/history/nope.model/1").status_code == 404


def test_pool_members_see_owner_less_pool_customers_read_only(org: Organisation) -> None:
    from kehu.pools import services as pools

    pool = pools.pool_create(actor=org.admin, data={"name": "华东公海"}, departments=[org.east])
    pooled = customer_of(org.colleague)
    pools.pool_put(actor=org.admin, customer_id=pooled.pk, pool_id=pool.pk, reason="长期未跟进")
    pooled.refresh_from_db()
    assert pooled.owner_id is None

    assert pooled.pk in visible_ids(org.rep)
    assert pooled.pk in visible_ids(org.hangzhou_rep)  # sub-departments are members too
    assert pooled.pk not in visible_ids(org.south_rep)
    assert not Customer.objects.editable_by(org.rep).filter(pk=pooled.pk).exists()


def test_own_rows_are_a_subset_of_every_scope(org: Organisation) -> None:
    from kehu.followups import services as followups
    from kehu.followups.models import FollowUp, Task

    own = customer_of(org.rep)
    customer_of(org.colleague)
    mine = followups.task_create(
        actor=None, assignee=org.east_manager, title="回访", due_at=timezone.now()
    )
    followups.task_create(actor=None, assignee=org.rep, title="电话", due_at=timezone.now())

    for user in (org.rep, org.east_manager, org.admin, org.marketing, org.service):
        owned = set(Customer.objects.own_of(user).values_list("pk", flat=True))
        assert owned <= visible_ids(user)
        assigned = set(Task.objects.own_of(user).values_list("pk", flat=True))
        assert assigned <= set(Task.objects.visible_to(user).values_list("pk", flat=True))
    assert set(Customer.objects.own_of(org.rep).values_list("pk", flat=True)) == {own.pk}
    assert list(Task.objects.own_of(org.east_manager)) == [mine]
    # The manager's own tasks are read without the team's customer scope as a subquery.
    assert "customers_customer" not in str(Task.objects.own_of(org.east_manager).query)
    assert not FollowUp.objects.own_of(org.rep).exists()  # follow-ups belong to the customer
    org.east_manager.is_active = False
    assert not Task.objects.own_of(org.east_manager).exists()
