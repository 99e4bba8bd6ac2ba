"""Claim, assign, release, recycle: limits, cooling, scope and history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.testing.factories import Organisation
from kehu.customers import hooks
from kehu.customers.models import Customer
from kehu.pools import services
from kehu.pools.access import pool_customer_ids
from kehu.pools.models import EventKind, PoolEntry, PoolEvent
from kehu.pools.services import LimitReached
from kehu.pools.tests.factories import make_customer, make_pool, pooled_customer

pytestmark = pytest.mark.django_db


def test_claim_takes_the_customer_and_records_history(org: Organisation) -> None:
    pool = make_pool(org.east)
    customer = pooled_customer(pool)
    claimed = services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=customer.pk)
    claimed.refresh_from_db()
    assert claimed.owner == org.rep
    assert claimed.department == org.shanghai
    assert not PoolEntry.objects.filter(customer=customer).exists()
    event = PoolEvent.objects.get(customer=customer)
    assert (event.kind, event.user, event.actor) == (EventKind.CLAIMED, org.rep, org.rep)
    latest = claimed.history.first()
    assert latest.history_user == org.rep
    assert pool.name in latest.history_change_reason


def test_claim_from_a_pool_the_rep_does_not_belong_to_is_404(org: Organisation) -> None:
    pool = make_pool(org.south)
    customer = pooled_customer(pool)
    with pytest.raises(NotFound):
        services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=customer.pk)
    customer.refresh_from_db()
    assert customer.owner is None


def test_claim_of_a_customer_in_another_pool_is_404(org: Organisation) -> None:
    mine, other = make_pool(org.east), make_pool(org.south)
    customer = pooled_customer(other)
    with pytest.raises(NotFound):
        services.pool_claim(actor=org.rep, pool_id=mine.pk, customer_id=customer.pk)


def test_claim_twice_answers_conflict_for_the_second(org: Organisation) -> None:
    pool = make_pool(org.east)
    customer = pooled_customer(pool)
    services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=customer.pk)
    with pytest.raises(Conflict) as refused:
        services.pool_claim(actor=org.colleague, pool_id=pool.pk, customer_id=customer.pk)
    assert refused.value.code == "already_claimed"
    customer.refresh_from_db()
    assert customer.owner == org.rep


def test_held_limit_refuses_and_changes_nothing(org: Organisation) -> None:
    pool = make_pool(org.east, max_held_per_rep=2, max_claims_per_day=0)
    make_customer(org.rep)
    first, second = pooled_customer(pool), pooled_customer(pool)
    services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=first.pk)
    with pytest.raises(LimitReached) as refused:
        services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=second.pk)
    assert refused.value.code == "held_limit"
    assert "2" in refused.value.detail
    second.refresh_from_db()
    assert second.owner is None
    assert PoolEntry.objects.filter(customer=second, pool=pool).exists()


def test_daily_limit_resets_the_next_day(org: Organisation) -> None:
    pool = make_pool(org.east, max_held_per_rep=0, max_claims_per_day=1)
    first, second = pooled_customer(pool), pooled_customer(pool)
    with time_machine.travel(timezone.make_aware(timezone.datetime(2026, 3, 2, 10, 0))):
        services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=first.pk)
        with pytest.raises(LimitReached) as refused:
            services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=second.pk)
        assert refused.value.code == "daily_limit"
    with time_machine.travel(timezone.make_aware(timezone.datetime(2026, 3, 3, 0, 5))):
        services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=second.pk)
    second.refresh_from_db()
    assert second.owner == org.rep


def test_release_needs_a_reason_and_starts_a_cooling_period(org: Organisation) -> None:
    pool = make_pool(org.east, cooling_days=7)
    customer = make_customer(org.rep)
    with pytest.raises(InvalidInput):
        services.pool_release(actor=org.rep, customer_id=customer.pk, reason="  ")
    start = timezone.now()
    with time_machine.travel(start):
        entry = services.pool_release(actor=org.rep, customer_id=customer.pk, reason="无需求")
    assert entry.pool == pool
    assert entry.previous_owner == org.rep
    assert entry.released_by == org.rep
    customer.refresh_from_db()
    assert customer.owner is None
    assert "无需求" in customer.history.first().history_change_reason
    with time_machine.travel(start + timedelta(days=3)):
        with pytest.raises(LimitReached) as refused:
            services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=customer.pk)
        assert refused.value.code == "cooling"
        # A colleague may take it at once.
        services.pool_claim(actor=org.colleague, pool_id=pool.pk, customer_id=customer.pk)


def test_cooling_period_ends(org: Organisation) -> None:
    pool = make_pool(org.east, cooling_days=7)
    customer = make_customer(org.rep)
    start = timezone.now()
    with time_machine.travel(start):
        services.pool_release(actor=org.rep, customer_id=customer.pk, reason="暂无预算")
    with time_machine.travel(start + timedelta(days=7, minutes=1)):
        services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=customer.pk)


def test_release_of_someone_elses_customer_is_404(org: Organisation) -> None:
    make_pool(org.east)
    customer = make_customer(org.colleague)
    with pytest.raises(NotFound):
        services.pool_release(actor=org.rep, customer_id=customer.pk, reason="x")


def test_release_without_a_covering_pool_asks_for_one(org: Organisation) -> None:
    customer = make_customer(org.south_rep)
    with pytest.raises(InvalidInput) as refused:
        services.pool_release(actor=org.south_rep, customer_id=customer.pk, reason="x")
    assert "pool" in refused.value.errors


def test_home_pool_is_the_deepest_member_department(org: Organisation) -> None:
    region = make_pool(org.east)
    team = make_pool(org.shanghai)
    pools = services.home_pools([org.shanghai.pk, org.hangzhou.pk, org.south.pk])
    assert pools == {org.shanghai.pk: team, org.hangzhou.pk: region}


def test_manager_assigns_within_their_departments(org: Organisation) -> None:
    pool = make_pool(org.east)
    customer = pooled_customer(pool)
    with pytest.raises(Forbidden):
        services.pool_assign(
            actor=org.rep, pool_id=pool.pk, customer_id=customer.pk, assignee=org.colleague
        )
    with pytest.raises(InvalidInput):
        services.pool_assign(
            actor=org.east_manager, pool_id=pool.pk, customer_id=customer.pk, assignee=org.south_rep
        )
    services.pool_assign(
        actor=org.east_manager,
        pool_id=pool.pk,
        customer_id=customer.pk,
        assignee=org.hangzhou_rep,
        reason="杭州本地客户",
    )
    customer.refresh_from_db()
    assert customer.owner == org.hangzhou_rep
    assert PoolEvent.objects.get(customer=customer).kind == EventKind.ASSIGNED


def test_assign_respects_the_held_limit_of_the_assignee(org: Organisation) -> None:
    pool = make_pool(org.east, max_held_per_rep=1)
    make_customer(org.hangzhou_rep)
    customer = pooled_customer(pool)
    with pytest.raises(LimitReached):
        services.pool_assign(
            actor=org.admin, pool_id=pool.pk, customer_id=customer.pk, assignee=org.hangzhou_rep
        )


def test_pool_customer_ids_cover_members_only(org: Organisation) -> None:
    east, south = make_pool(org.east), make_pool(org.south)
    in_east, in_south = pooled_customer(east), pooled_customer(south)
    assert set(pool_customer_ids(org.rep, False).values_list("customer_id", flat=True)) == {
        in_east.pk
    }
    assert not pool_customer_ids(org.rep, True).exists()
    assert set(pool_customer_ids(org.east_manager, True).values_list("customer_id", flat=True)) == {
        in_east.pk
    }
    assert set(pool_customer_ids(org.admin, False).values_list("customer_id", flat=True)) == {
        in_east.pk,
        in_south.pk,
    }
    assert not pool_customer_ids(org.service, False).exists()
    visible = Customer.objects.filter(pk__in=pool_customer_ids(org.rep, False))
    assert list(visible) == [in_east]


def test_admin_puts_a_customer_into_a_pool(org: Organisation) -> None:
    pool = make_pool(org.south)
    customer = make_customer(org.rep)
    with pytest.raises(NotFound):  # not a member: the pool does not leak
        services.pool_put(
            actor=org.east_manager, customer_id=customer.pk, pool_id=pool.pk, reason="x"
        )
    with pytest.raises(Forbidden):  # a member, but only admins put customers into pools
        services.pool_put(
            actor=org.south_manager, customer_id=customer.pk, pool_id=pool.pk, reason="x"
        )
    entry = services.pool_put(
        actor=org.admin, customer_id=customer.pk, pool_id=pool.pk, reason="调整"
    )
    assert entry.pool == pool
    assert entry.previous_owner == org.rep


def test_pool_settings_are_validated(org: Organisation) -> None:
    with pytest.raises(Forbidden):
        services.pool_create(actor=org.east_manager, data={"name": "华东公海"})
    pool = services.pool_create(
        actor=org.admin,
        data={"name": "华东公海", "max_held_per_rep": 10},
        departments=[org.east.pk],
    )
    assert list(pool.departments.all()) == [org.east]
    with pytest.raises(InvalidInput):
        services.pool_create(actor=org.admin, data={"name": "华东公海"})
    with pytest.raises(InvalidInput):
        services.pool_create(actor=org.admin, data={"name": "X"}, departments=[999999])
    with pytest.raises(InvalidInput):
        services.pool_update(actor=org.admin, pool=pool, changes={"owner": 1})
    updated = services.pool_update(
        actor=org.admin, pool=pool, changes={"cooling_days": 3}, version=pool.version
    )
    assert updated.cooling_days == 3
    assert updated.version == 2
    with pytest.raises(Conflict):
        services.pool_update(actor=org.admin, pool=pool, changes={"cooling_days": 4}, version=1)


def test_claim_and_release_report_the_owner_change_to_the_follow_up_plan(
    org: Organisation,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The follow-up plan depends on the owner: a pool's owner changes are reported like a
    reassignment (``customers.hooks``), not written around the customer services."""
    reported: list[list[int]] = []
    monkeypatch.setattr(hooks, "_callbacks", [reported.append])
    pool = make_pool(org.east)
    customer = pooled_customer(pool)
    with django_capture_on_commit_callbacks(execute=True):
        services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=customer.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.pool_release(actor=org.rep, customer_id=customer.pk, reason="无需求")
    assert reported == [[customer.pk], [customer.pk]]
