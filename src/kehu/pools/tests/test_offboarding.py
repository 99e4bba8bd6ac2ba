"""Offboarding services: atomicity, split rules and the kinds discovered."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.testing.factories import Organisation
from kehu.customers.models import Customer
from kehu.pools import services
from kehu.pools.services import offboarding
from kehu.pools.models import Offboarding
from kehu.pools.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def test_a_failure_midway_changes_nothing(org: Organisation, monkeypatch: Any) -> None:
    for _ in range(3):
        make_customer(org.rep)

    def broken(**kwargs: Any) -> int:
        raise RuntimeError("channel down")

    monkeypatch.setattr(offboarding, "_notify", broken)
    with pytest.raises(RuntimeError):
        services.offboarding_apply(actor=org.admin, user=org.rep, successors=[org.colleague])
    org.rep.refresh_from_db()
    assert org.rep.is_active
    assert Customer.objects.filter(owner=org.rep).count() == 3
    assert not Offboarding.objects.exists()


def test_split_gives_each_kind_to_its_successor(org: Organisation) -> None:
    customers = [make_customer(org.rep) for _ in range(2)]
    plan = services.offboarding_plan(
        actor=org.admin, user=org.rep, mode="split", split={"customers": org.hangzhou_rep.pk}
    )
    assert {item.successor_id for item in plan.items if item.kind == "customers"} == {
        org.hangzhou_rep.pk
    }
    counts = {row["kind"]: row for row in plan.counts()}
    assert counts["customers"]["per_successor"] == [
        {"user_id": org.hangzhou_rep.pk, "name": str(org.hangzhou_rep), "count": len(customers)}
    ]


def test_split_refuses_a_deactivated_successor(org: Organisation) -> None:
    make_customer(org.rep)
    org.hangzhou_rep.is_active = False
    org.hangzhou_rep.save()
    with pytest.raises(InvalidInput) as refused:
        services.offboarding_plan(
            actor=org.admin, user=org.rep, mode="split", split={"customers": org.hangzhou_rep.pk}
        )
    assert "successors" in refused.value.errors


def test_bad_requests(org: Organisation) -> None:
    make_customer(org.rep)
    with pytest.raises(Forbidden):
        services.offboarding_plan(actor=org.east_manager, user=org.rep, successors=[org.colleague])
    with pytest.raises(InvalidInput):
        services.offboarding_plan(actor=org.admin, user=org.rep, successors=[org.rep])
    with pytest.raises(InvalidInput):
        services.offboarding_plan(actor=org.admin, user=org.admin, successors=[org.rep])
    with pytest.raises(InvalidInput):
        services.offboarding_plan(actor=org.admin, user=999999, successors=[org.rep])
    with pytest.raises(InvalidInput):
        services.offboarding_plan(
            actor=org.admin, user=org.rep, successors=[org.colleague], mode="random"
        )
    with pytest.raises(InvalidInput):
        services.offboarding_plan(
            actor=org.admin, user=org.rep, successors=[org.colleague], pool=999999
        )


def test_a_user_without_records_is_just_deactivated(org: Organisation) -> None:
    record = services.offboarding_apply(actor=org.admin, user=org.marketing)
    assert record.summary["total"] == 0
    org.marketing.refresh_from_db()
    assert not org.marketing.is_active


def test_known_kinds_are_discovered() -> None:
    keys = [kind.key for kind in services.transfer_kinds()]
    assert keys[0] == "customers"
    assert "pools.pool" not in keys
    assert not any(key.startswith("historical") for key in keys)
