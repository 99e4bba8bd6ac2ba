"""The pool grant joins the customer policy from PoolsConfig.ready(), once."""

from __future__ import annotations

import pytest
from django.apps import apps

from kehu.core.access import policy_of
from kehu.core.testing.factories import Organisation
from kehu.customers.models import Customer
from kehu.pools.access import pool_customer_ids
from kehu.pools.tests.factories import make_pool, pooled_customer


def test_the_pool_grant_is_registered_once_even_if_ready_runs_again() -> None:
    policy = policy_of(Customer)
    apps.get_app_config("pools").ready()
    assert policy.registered_ids.count(pool_customer_ids) == 1


@pytest.mark.django_db
def test_pool_members_read_and_managers_edit_pooled_customers(org: Organisation) -> None:
    pool = make_pool(org.east)
    customer = pooled_customer(pool)
    assert Customer.objects.visible_to(org.rep).filter(pk=customer.pk).exists()
    assert not Customer.objects.editable_by(org.rep).filter(pk=customer.pk).exists()
    assert Customer.objects.editable_by(org.east_manager).filter(pk=customer.pk).exists()
    assert not Customer.objects.visible_to(org.south_rep).filter(pk=customer.pk).exists()
