"""The retention workflow: policies, what falls due, review lists, approval, destruction,
legal hold (docs/governance.md, "Retention and legal hold")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.core.errors import Conflict, Forbidden, InvalidInput, StaleVersion
from kehu.core.models import AuditEntry
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customers
from kehu.customers.models import Customer
from kehu.governance.models import (
    BatchStatus,
    DestructionBatch,
    DestructionItem,
    ItemStatus,
    LegalHold,
    RetentionPolicy,
    SkipReason,
)
from kehu.governance.selectors import retention as selectors
from kehu.governance.services import destruction, holds, retention
from kehu.governance.tests.retention_support import customer_at, lead_at
from kehu.leads.models import Lead, LeadStatus
from kehu.notifications.models import Notification

YEAR = 366  # days: safely past a year whatever the leap years


@pytest.fixture(autouse=True)
def _policies(db: None) -> None:
    """The policies the migration makes; a transactional test elsewhere flushes them."""
    retention.ensure_default_policies()


def _policy(key: str) -> RetentionPolicy:
    return RetentionPolicy.objects.get(key=key)


def _approve(org: Organisation, batch: DestructionBatch, capture: Any, **kw: Any) -> None:
    with capture(execute=True):
        retention.batch_approve(actor=org.admin, batch=batch, version=batch.version, **kw)


# --- Policies ---------------------------------------------------------------------------------


def test_default_policies(db: None) -> None:
    rows = {p.key: (p.kind, p.status, p.years, p.is_active) for p in RetentionPolicy.objects.all()}
    assert rows == {
        "customer.churned": ("customer", "churned", 3, True),
        "customer.potential": ("customer", "potential", 5, False),
        "lead.closed": ("lead", "closed", 1, True),
        "lead.converted": ("lead", "converted", 3, True),
    }


def test_policy_update_is_audited_and_bounded(org: Organisation) -> None:
    policy = _policy("customer.churned")
    changed = retention.policy_update(
        actor=org.admin, policy=policy, data={"years": 5}, version=policy.version
    )
    assert (changed.years, changed.version) == (5, policy.version + 1)
    entry = AuditEntry.objects.get(action="governance.retention_policy_changed")
    assert entry.actor_id == org.admin.pk
    assert entry.details["before"]["years"] == 3
    assert entry.details["after"]["years"] == 5
    for years in (0, 11, "x"):
        with pytest.raises(InvalidInput) as caught:
            retention.policy_update(
                actor=org.admin, policy=changed, data={"years": years}, version=changed.version
            )
        assert "years" in caught.value.errors
    with pytest.raises(StaleVersion):
        retention.policy_update(actor=org.admin, policy=changed, data={"years": 4}, version=1)
    with pytest.raises(Forbidden):
        retention.policy_update(
            actor=org.east_manager, policy=changed, data={"years": 4}, version=changed.version
        )
    assert _policy("customer.churned").years == 5


def test_policy_api_refuses_years_out_of_range(org: Organisation) -> None:
    client = api_client(org.admin)
    listed = client.get("/api/v1/retention-policies").json()
    churned = next(row for row in listed if row["key"] == "customer.churned")
    url = f"/api/v1/retention-policies/{churned['id']}"
    for years in (0, 11):
        answer = client.patch(
            url, {"version": churned["version"], "years": years}, content_type="application/json"
        )
        assert answer.status_code == 422, answer.content
        assert set(answer.json()) >= {"detail", "code", "errors"}
        assert "years" in answer.json()["errors"]
    answer = client.patch(
        url, {"version": churned["version"], "years": 10}, content_type="application/json"
    )
    assert answer.status_code == 200
    assert answer.json()["years"] == 10
    assert api_client(org.rep).get("/api/v1/retention-policies").status_code == 403


# --- What falls due ---------------------------------------------------------------------------


def test_due_list_follows_status_activity_and_policy(org: Organisation) -> None:
    old = customer_at(org, days_ago=3 * YEAR + 10)
    next_month = customer_at(org, days_ago=3 * 365 - 20)  # due within about 20 days
    recent = customer_at(org, days_ago=2 * YEAR)
    won = customer_at(org, days_ago=5 * YEAR, status="won")
    contacted = customer_at(org, days_ago=4 * YEAR)
    Customer.objects.filter(pk=contacted.pk).update(last_contact_at=timezone.now())
    closed = lead_at(org, days_ago=YEAR + 5)
    fresh_lead = lead_at(org, days_ago=100)
    converted = lead_at(org, days_ago=3 * YEAR + 5, status=LeadStatus.CONVERTED)

    due = {(row.kind, row.object_id): row for row in selectors.due_list(user=org.admin)}
    assert set(due) == {
        ("customer", old.pk),
        ("customer", next_month.pk),
        ("lead", closed.pk),
        ("lead", converted.pk),
    }
    for kind, kept in (("customer", recent), ("customer", won), ("lead", fresh_lead)):
        assert (kind, kept.pk) not in due
    assert due[("customer", old.pk)].policy_key == "customer.churned"
    assert due[("customer", old.pk)].due_on < timezone.localdate()
    assert due[("customer", next_month.pk)].due_on > timezone.localdate()
    assert due[("lead", closed.pk)].name == closed.company_name

    # a policy switched off makes nothing due; a longer period moves the date
    leads = _policy("lead.closed")
    retention.policy_update(
        actor=org.admin, policy=leads, data={"is_active": False}, version=leads.version
    )
    churned = _policy("customer.churned")
    retention.policy_update(actor=org.admin, policy=churned, data={"years": 4}, version=1)
    due_now = {(row.kind, row.object_id) for row in selectors.due_list(user=org.admin)}
    assert due_now == {("lead", converted.pk)}


def test_due_list_marks_held_customers(org: Organisation) -> None:
    held = customer_at(org, days_ago=4 * YEAR)
    holds.hold_set(actor=org.admin, customer_id=held.pk, reason="诉讼保全 (2026)沪01民初1号")
    [row] = selectors.due_list(user=org.admin)
    assert (row.object_id, row.held) == (held.pk, True)


def test_due_list_is_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        customer_at(org, days_ago=4 * YEAR)
        lead_at(org, days_ago=2 * YEAR)
    with django_assert_max_num_queries(6):  # policies, one per active policy, the holds
        rows = selectors.due_list(user=org.admin)
    assert len(rows) == 6
    for _ in range(5):
        customer_at(org, days_ago=4 * YEAR)
    with django_assert_max_num_queries(6):
        assert len(selectors.due_list(user=org.admin)) == 11


# --- Review, approval, destruction ------------------------------------------------------------


def test_nothing_is_destroyed_without_approval(org: Organisation) -> None:
    customer = customer_at(org, days_ago=4 * YEAR)
    retention.retention_daily(today=timezone.localdate().replace(day=25))
    assert DestructionBatch.objects.get().status == BatchStatus.PENDING
    retention.retention_daily()
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert not AuditEntry.objects.filter(action="governance.destruction").exists()


def test_prepare_approve_destroy(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    due = customer_at(org, days_ago=4 * YEAR)
    kept = customer_at(org, days_ago=4 * YEAR)
    held = customer_at(org, days_ago=4 * YEAR)
    later = customer_at(org, days_ago=3 * 365 - 20)
    lead = lead_at(org, days_ago=2 * YEAR)
    holds.hold_set(actor=org.admin, customer_id=held.pk, reason="仲裁")

    batch = retention.batch_prepare(actor=org.admin)
    items = {(i.kind, i.object_id): i for i in DestructionItem.objects.filter(batch=batch)}
    assert items[("customer", held.pk)].status == ItemStatus.SKIPPED
    assert items[("customer", held.pk)].skip_reason == SkipReason.HELD
    notice = Notification.objects.get(recipient=org.admin, kind="governance.retention_review")
    assert notice.url == reverse("governance:retention_batch", args=[batch.pk])
    assert due.name not in notice.title + notice.body
    with pytest.raises(Conflict):
        retention.batch_prepare(actor=org.admin)  # one open list per month

    _approve(
        org,
        batch,
        django_capture_on_commit_callbacks,
        exclude=[items[("customer", kept.pk)].pk],
    )
    assert not Customer.objects.filter(pk=due.pk).exists()
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert Customer.objects.filter(pk__in=[kept.pk, held.pk, later.pk]).count() == 3
    statuses = dict(DestructionItem.objects.filter(batch=batch).values_list("object_id", "status"))
    assert statuses[due.pk] == ItemStatus.DESTROYED
    assert statuses[kept.pk] == ItemStatus.EXCLUDED
    assert statuses[later.pk] == ItemStatus.PENDING  # its date has not come

    approved = AuditEntry.objects.get(action="governance.destruction_approved")
    assert approved.actor_id == org.admin.pk
    tombstones = list(AuditEntry.objects.filter(action="governance.destruction").order_by("seq"))
    assert len(tombstones) == 2  # the customers of one policy at once, the lead
    customer_stone = next(t for t in tombstones if t.details["policy"] == "customer.churned")
    assert customer_stone.actor_id == org.admin.pk
    assert due.name not in str(customer_stone.details)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.APPROVED  # the later record waits for its date

    # on its date the daily job destroys it and closes the list
    retention.retention_daily(today=timezone.localdate() + timedelta(days=40))
    assert not Customer.objects.filter(pk=later.pk).exists()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert batch.finished_at is not None


def test_approved_records_are_checked_again(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    held = customer_at(org, days_ago=4 * YEAR)
    back = customer_at(org, days_ago=4 * YEAR)
    gone = customer_at(org, days_ago=4 * YEAR)
    batch = retention.batch_prepare(actor=org.admin)
    # between the review and the destruction: a hold, new business, a deletion
    holds.hold_set(actor=org.admin, customer_id=held.pk, reason="监管调查")
    Customer.objects.filter(pk=back.pk).update(last_contact_at=timezone.now())
    Customer.objects.filter(pk=gone.pk).delete()
    _approve(org, batch, django_capture_on_commit_callbacks)
    reasons = dict(
        DestructionItem.objects.filter(batch=batch).values_list("object_id", "skip_reason")
    )
    assert reasons == {held.pk: SkipReason.HELD, back.pk: SkipReason.NOT_DUE, gone.pk: "gone"}
    assert Customer.objects.filter(pk__in=[held.pk, back.pk]).count() == 2
    assert not AuditEntry.objects.filter(action="governance.destruction").exists()


def test_approve_refuses_bad_input(org: Organisation) -> None:
    customer_at(org, days_ago=4 * YEAR)
    batch = retention.batch_prepare(actor=org.admin)
    with pytest.raises(InvalidInput):
        retention.batch_approve(actor=org.admin, batch=batch, version=batch.version, exclude=[-1])
    with pytest.raises(StaleVersion):
        retention.batch_approve(actor=org.admin, batch=batch, version=batch.version + 5)
    with pytest.raises(Forbidden):
        retention.batch_approve(actor=org.east_manager, batch=batch, version=batch.version)
    retention.batch_cancel(actor=org.admin, batch=batch, version=batch.version)
    batch.refresh_from_db()
    with pytest.raises(Conflict):
        retention.batch_approve(actor=org.admin, batch=batch, version=batch.version)


def test_daily_job_prepares_once_from_the_review_day(org: Organisation) -> None:
    customer_at(org, days_ago=4 * YEAR)
    today = timezone.localdate()
    assert retention.retention_daily(today=today.replace(day=19))["prepared"] is None
    first = retention.retention_daily(today=today.replace(day=20))["prepared"]
    assert first is not None
    assert retention.retention_daily(today=today.replace(day=21))["prepared"] is None
    assert DestructionBatch.objects.count() == 1
    assert Notification.objects.filter(kind="governance.retention_review").count() == 1


# --- Legal hold -------------------------------------------------------------------------------


def test_legal_hold_set_and_remove_are_audited(org: Organisation) -> None:
    customer = customer_at(org, days_ago=10)
    hold = holds.hold_set(actor=org.admin, customer_id=customer.pk, reason="诉讼")
    assert holds.is_held(customer.pk)
    with pytest.raises(Conflict):
        holds.hold_set(actor=org.admin, customer_id=customer.pk, reason="again")
    with pytest.raises(InvalidInput):
        holds.hold_set(actor=org.admin, customer_id=customer.pk, reason="  ")
    with pytest.raises(Forbidden):
        holds.hold_set(actor=org.east_manager, customer_id=customer.pk, reason="x")
    removed = holds.hold_remove(actor=org.admin, hold=hold, reason="结案")
    assert removed.removed_by == org.admin
    assert not holds.is_held(customer.pk)
    with pytest.raises(Conflict):
        holds.hold_remove(actor=org.admin, hold=hold, reason="twice")
    entries = list(
        AuditEntry.objects.filter(action__startswith="governance.legal_hold").order_by("seq")
    )
    assert [e.action for e in entries] == [
        "governance.legal_hold_set",
        "governance.legal_hold_removed",
    ]
    assert all(e.target_id == str(customer.pk) for e in entries)
    assert all("诉讼" not in str(e.details) for e in entries)  # ids only
    assert LegalHold.objects.count() == 1


def test_destruction_of_a_held_customer_is_refused(org: Organisation) -> None:
    customer = customer_at(org, days_ago=4 * YEAR)
    holds.hold_set(actor=org.admin, customer_id=customer.pk, reason="保全")
    with pytest.raises(Conflict):
        destruction.destroy_customers([customer.pk], actor=org.admin, reason="test")
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_a_merge_keeps_the_hold_on_the_survivor(org: Organisation) -> None:
    held = customer_at(org, days_ago=10)
    survivor = customer_at(org, days_ago=10)
    hold = holds.hold_set(actor=org.admin, customer_id=held.pk, reason="诉讼")
    customers.customer_merge(actor=org.admin, survivor=survivor, merged=held)
    hold.refresh_from_db()
    assert hold.customer_id == survivor.pk
    assert holds.is_held(survivor.pk)
