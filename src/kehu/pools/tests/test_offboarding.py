"""Offboarding services: atomicity, split rules and the kinds discovered."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.testing.factories import Organisation
from kehu.customers.models import Customer
from kehu.pools import services
from kehu.pools.models import Offboarding
from kehu.pools.services import offboarding
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


# --- Each record moves through its own app's service --------------------------------------


def _lead(org: Organisation, status: str = "") -> Any:
    from kehu.leads import services as leads

    lead = leads.lead_capture(
        actor=None,
        data={
            "company_name": "交接科技有限公司",
            "contact_name": "王五",
            "mobile": "13800139999",
            "source": "trade_show",
        },
    )
    lead = leads.lead_assign(actor=org.admin, lead=lead, assignee=org.rep)
    if status:
        type(lead).objects.filter(pk=lead.pk).update(status=status)
    return lead


def test_a_handed_over_lead_has_its_assignment_event(org: Organisation) -> None:
    from kehu.leads.models import EventKind, LeadEvent

    lead = _lead(org)
    services.offboarding_apply(actor=org.admin, user=org.rep, successors=[org.colleague])
    lead.refresh_from_db()
    assert lead.assignee_id == org.colleague.pk
    event = LeadEvent.objects.filter(lead=lead, kind=EventKind.ASSIGNED).first()
    assert event is not None
    assert event.actor_id == org.admin.pk
    assert event.data["assignee"] == org.colleague.pk
    assert event.data["previous"] == org.rep.pk
    assert event.note == services.HANDOVER_REASON


def test_closed_and_reviewed_leads_stay_with_the_leaving_user(org: Organisation) -> None:
    closed = _lead(org, "closed")
    pending = _lead(org, "pending_review")
    plan = services.offboarding_plan(actor=org.admin, user=org.rep, successors=[org.colleague])
    assert not [item for item in plan.items if item.kind == "leads"]
    services.offboarding_apply(actor=org.admin, user=org.rep, successors=[org.colleague])
    closed.refresh_from_db()
    pending.refresh_from_db()
    assert closed.assignee_id == pending.assignee_id == org.rep.pk


def test_the_leaving_user_is_deactivated_and_their_tokens_revoked(org: Organisation) -> None:
    from kehu.accounts.services import token_authenticate, token_create

    issued = token_create(user=org.rep, name="脚本")
    services.offboarding_apply(actor=org.admin, user=org.rep, successors=[org.colleague])
    org.rep.refresh_from_db()
    assert not org.rep.is_active
    assert token_authenticate(issued.plaintext) is None
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    last = org.rep.history.order_by("-history_id").first()
    assert last is not None
    assert last.history_change_reason == services.HANDOVER_REASON
    assert last.history_user_id == org.admin.pk


def test_a_handed_over_customer_has_the_reassignment_history(org: Organisation) -> None:
    customer = make_customer(org.rep)
    version = customer.version
    services.offboarding_apply(actor=org.admin, user=org.rep, successors=[org.colleague])
    customer.refresh_from_db()
    assert customer.owner_id == org.colleague.pk
    assert customer.department_id == org.colleague.department_id
    assert customer.version == version + 1
    last = customer.history.order_by("-history_id").first()
    assert last is not None
    assert last.owner_id == org.colleague.pk
    assert last.history_change_reason == services.HANDOVER_REASON
    assert last.history_user_id == org.admin.pk


def test_opportunities_and_tasks_follow_their_customer_with_history(org: Organisation) -> None:
    from django.utils import timezone

    from kehu.followups.services import task_create
    from kehu.opportunities.tests.factories import make_opportunity

    customer = make_customer(org.rep)
    opportunity = make_opportunity(org.rep, customer)
    task = task_create(
        actor=org.rep, assignee=org.rep, title="回访", due_at=timezone.now(), customer=customer
    )
    services.offboarding_apply(
        actor=org.admin, user=org.rep, successors=[org.colleague, org.east_manager]
    )
    customer.refresh_from_db()
    opportunity.refresh_from_db()
    task.refresh_from_db()
    assert opportunity.owner_id == task.assignee_id == customer.owner_id == org.colleague.pk
    for record in (opportunity, task):
        last = record.history.order_by("-history_id").first()
        assert last is not None
        assert last.history_change_reason == services.HANDOVER_REASON
