"""The retention workflow (保存期限, 合规销毁): policies per record kind and status, the monthly
review list, an administrator's approval and the destruction of the approved records through
``kehu.governance.services.destruction`` (docs/governance.md, "Retention and legal hold").

Nothing is destroyed without approval: ``batch_prepare`` lists what falls due by the end of a
month, ``batch_approve`` approves it (an administrator may exclude records first), and
``batch_execute`` destroys the approved records whose date has come, checking each again
(still in the status, still due, not under legal hold) just before.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Role, User
from kehu.core import audit, config
from kehu.core.errors import Conflict, InvalidInput, KehuError
from kehu.core.services import bump_version, check_version
from kehu.customers.models import Customer, CustomerStatus
from kehu.governance.models import (
    MAX_YEARS,
    MIN_YEARS,
    BatchStatus,
    DestructionBatch,
    DestructionItem,
    ItemStatus,
    RecordKind,
    RetentionPolicy,
    SkipReason,
)
from kehu.governance.selectors import retention as selectors
from kehu.governance.services import destruction
from kehu.leads.models import Lead, LeadStatus
from kehu.notifications.services import notify

REVIEW_DAY = config.define(
    "governance.retention_review_day",
    20,
    gettext_lazy("Day of the month the next month's destruction review is prepared"),
    group="governance",
    unit=config.DAY_OF_MONTH,
    minimum=1,
    maximum=28,
    help=gettext_lazy(
        "On this day the records that fall due next month under the retention policies are "
        "listed for review and the administrators are notified; nothing is destroyed before an "
        "administrator approves the list."
    ),
)

# (key, kind, status, years, active): the policies Kehu knows, with their defaults.
DEFAULT_POLICIES: tuple[tuple[str, str, str, int, bool], ...] = (
    # 流失客户: the handbooks' 3 years after the last activity
    ("customer.churned", RecordKind.CUSTOMER, CustomerStatus.CHURNED, 3, True),
    # a prospect nobody worked for years: off until the company decides
    ("customer.potential", RecordKind.CUSTOMER, CustomerStatus.POTENTIAL, 5, False),
    # invalid leads (closed as invalid after review): 1 year after they were marked invalid
    ("lead.closed", RecordKind.LEAD, LeadStatus.CLOSED, 1, True),
    # converted leads: the customer keeps its own copy, the lead's goes 3 years on
    ("lead.converted", RecordKind.LEAD, LeadStatus.CONVERTED, 3, True),
)

POLICY_LABELS = {
    "customer.churned": gettext_lazy("Churned customers (流失客户)"),
    "customer.potential": gettext_lazy("Potential customers without activity (潜在客户)"),
    "lead.closed": gettext_lazy("Leads closed as invalid (无效线索)"),
    "lead.converted": gettext_lazy("Converted leads (已转化线索)"),
}


def policy_label(key: str) -> str:
    return str(POLICY_LABELS.get(key, key))


def ensure_default_policies() -> None:
    """Create the policies Kehu knows that the table lacks (the migration makes them too)."""
    have = set(RetentionPolicy.objects.values_list("key", flat=True))
    missing = [
        RetentionPolicy(key=key, kind=kind, status=status, years=years, is_active=active)
        for key, kind, status, years, active in DEFAULT_POLICIES
        if key not in have
    ]
    if missing:
        RetentionPolicy.objects.bulk_create(missing, ignore_conflicts=True)


def _years(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise InvalidInput(errors={"years": [_("Give a whole number of years.")]}) from None
    if not MIN_YEARS <= value <= MAX_YEARS:
        raise InvalidInput(
            errors={
                "years": [
                    _("Keep records between %(min)s and %(max)s years.")
                    % {"min": MIN_YEARS, "max": MAX_YEARS}
                ]
            }
        )
    return int(value)


@transaction.atomic
def policy_update(
    *, actor: User, policy: RetentionPolicy, data: dict[str, Any], version: int | None
) -> RetentionPolicy:
    """Change a policy's years (1–10, else 422) and whether it is active."""
    selectors.require_admin(actor)
    unknown = sorted(set(data) - {"years", "is_active"})
    if unknown:
        raise InvalidInput(errors={name: [_("Unknown field.")] for name in unknown})
    locked = RetentionPolicy.objects.select_for_update().get(pk=policy.pk)
    check_version(locked, version)
    before = {"years": locked.years, "is_active": locked.is_active}
    if "years" in data:
        locked.years = _years(data["years"])
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise InvalidInput(errors={"is_active": [_("Give true or false.")]})
        locked.is_active = data["is_active"]
    after = {"years": locked.years, "is_active": locked.is_active}
    if after == before:
        return locked
    locked.updated_by = actor
    bump_version(locked)
    locked.save()
    audit.record(
        "governance.retention_policy_changed",
        actor=actor,
        target=locked,
        details={"policy": locked.key, "before": before, "after": after},
    )
    return locked


# --- Review lists -----------------------------------------------------------------------------


def _admins() -> list[User]:
    return list(
        User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True).order_by(
            "pk"
        )
    )


@transaction.atomic
def batch_prepare(
    *, actor: User | None, month: date | None = None, notify_admins: bool = True
) -> DestructionBatch:
    """List what falls due by the end of ``month`` (next month by default) for review.

    Records already on an open review list are left there; customers under legal hold are
    listed as skipped, so the review shows why they stay. ``actor`` None is the monthly job.
    409 when the month already has an open list."""
    if actor is not None:
        selectors.require_admin(actor)
    ensure_default_policies()
    month = selectors.review_month(month)
    open_statuses = [BatchStatus.PENDING, BatchStatus.APPROVED]
    if DestructionBatch.objects.filter(month=month, status__in=open_statuses).exists():
        raise Conflict(_("The review list of this month exists already."), code="review_exists")
    rows = selectors.due_records(until=selectors.month_end(month), ids=None)
    listed = set(
        DestructionItem.objects.filter(
            batch__status__in=open_statuses, status=ItemStatus.PENDING
        ).values_list("kind", "object_id")
    )
    batch = DestructionBatch.objects.create(month=month, prepared_by=actor)
    items = [
        DestructionItem(
            batch=batch,
            kind=row.kind,
            object_id=row.object_id,
            policy_key=row.policy_key,
            due_on=row.due_on,
            status=ItemStatus.SKIPPED if row.held else ItemStatus.PENDING,
            skip_reason=SkipReason.HELD if row.held else "",
        )
        for row in rows
        if (row.kind, row.object_id) not in listed
    ]
    DestructionItem.objects.bulk_create(items, batch_size=500)
    audit.record(
        "governance.destruction_review_prepared",
        actor=actor,
        target=batch,
        details={"month": f"{month:%Y-%m}", "records": len(items)},
    )
    if notify_admins:
        to_destroy = sum(1 for item in items if item.status == ItemStatus.PENDING)
        notify(
            recipients=_admins(),
            kind="governance.retention_review",
            title=_("Destruction review for %(month)s: %(count)s records")
            % {"month": f"{month:%Y-%m}", "count": to_destroy},
            body=_(
                "These records fall due under the retention policies. Review the list and "
                "approve it; nothing is destroyed before an administrator approves."
            ),
            url=reverse("governance:retention_batch", args=[batch.pk]),
            dedupe_key=f"governance.retention_review:{batch.pk}",
        )
    return batch


@transaction.atomic
def batch_approve(
    *, actor: User, batch: DestructionBatch, version: int | None, exclude: list[int] | None = None
) -> DestructionBatch:
    """Approve a review list; the records in ``exclude`` (item ids) stay. The approved records
    whose date has come are destroyed right after the commit, the others on their date."""
    selectors.require_admin(actor)
    locked = DestructionBatch.objects.select_for_update().get(pk=batch.pk)
    check_version(locked, version)
    if locked.status != BatchStatus.PENDING:
        raise Conflict(_("Only a list awaiting approval can be approved."), code="not_pending")
    excluded_ids = sorted(set(exclude or []))
    if excluded_ids:
        known = set(
            DestructionItem.objects.filter(
                batch=locked, pk__in=excluded_ids, status=ItemStatus.PENDING
            ).values_list("pk", flat=True)
        )
        wrong = [pk for pk in excluded_ids if pk not in known]
        if wrong:
            raise InvalidInput(
                errors={
                    "exclude": [
                        _("Not a record to destroy on this list: %(ids)s.")
                        % {"ids": ", ".join(map(str, wrong))}
                    ]
                }
            )
        DestructionItem.objects.filter(pk__in=excluded_ids).update(status=ItemStatus.EXCLUDED)
    locked.status = BatchStatus.APPROVED
    locked.approved_by = actor
    locked.approved_at = timezone.now()
    bump_version(locked)
    locked.save()
    counts = selectors.batch_counts(locked)
    audit.record(
        "governance.destruction_approved",
        actor=actor,
        target=locked,
        details={"month": f"{locked.month:%Y-%m}", "counts": counts},
    )
    transaction.on_commit(lambda: _queue_execute(locked.pk))
    return locked


_execute_queue: Any = None


def set_execute_queue(task: Any) -> None:
    """The tasks module hands its job here in ``ready()`` (services do not import tasks)."""
    global _execute_queue
    _execute_queue = task


def _queue_execute(batch_id: int) -> None:
    if _execute_queue is None:
        batch_execute(batch_id=batch_id)
    else:
        _execute_queue(batch_id)


@transaction.atomic
def batch_cancel(*, actor: User, batch: DestructionBatch, version: int | None) -> DestructionBatch:
    """Drop a list awaiting approval (its records come back on the next list if still due)."""
    selectors.require_admin(actor)
    locked = DestructionBatch.objects.select_for_update().get(pk=batch.pk)
    check_version(locked, version)
    if locked.status != BatchStatus.PENDING:
        raise Conflict(_("Only a list awaiting approval can be cancelled."), code="not_pending")
    locked.status = BatchStatus.CANCELLED
    locked.finished_at = timezone.now()
    bump_version(locked)
    locked.save()
    audit.record("governance.destruction_review_cancelled", actor=actor, target=locked)
    return locked


def _mark(items: list[DestructionItem], status: str, reason: str = "") -> None:
    if items:
        DestructionItem.objects.filter(pk__in=[item.pk for item in items]).update(
            status=status, skip_reason=reason, processed_at=timezone.now()
        )


def batch_execute(*, batch_id: int, today: date | None = None) -> dict[str, int]:
    """Destroy the approved records of a list whose date has come; return counts per outcome.

    Each record is checked again first: gone (deleted meanwhile), under legal hold, or no
    longer due (its status or activity changed, or its policy was switched off) means
    skipped. The destruction runs once per policy for customers (one tombstone each) and
    once per lead, each in its own transaction, with the approver as the actor."""
    today = today or timezone.localdate()
    outcome: dict[str, int] = defaultdict(int)
    with transaction.atomic():
        batch = DestructionBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status != BatchStatus.APPROVED:
            return {}
        items = list(
            DestructionItem.objects.filter(
                batch=batch, status=ItemStatus.PENDING, due_on__lte=today
            )
        )
        policies = {policy.key: policy for policy in RetentionPolicy.objects.all()}
        by_policy: dict[str, list[DestructionItem]] = defaultdict(list)
        for item in items:
            by_policy[item.policy_key].append(item)
        actor = batch.approved_by
        for key, group in sorted(by_policy.items()):
            policy = policies.get(key)
            if policy is None or not policy.is_active:
                _mark(group, ItemStatus.SKIPPED, SkipReason.NOT_DUE)
                outcome[SkipReason.NOT_DUE] += len(group)
                continue
            ids = [item.object_id for item in group]
            due = {
                row.object_id: row
                for row in selectors.due_records(
                    until=today, policies=[policy], ids={policy.kind: ids}
                )
            }
            model: Any = Customer if policy.kind == RecordKind.CUSTOMER else Lead
            existing = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
            gone = [item for item in group if item.object_id not in existing]
            held = [item for item in group if item.object_id in due and due[item.object_id].held]
            not_due = [
                item for item in group if item.object_id in existing and item.object_id not in due
            ]
            ready = [
                item for item in group if item.object_id in due and not due[item.object_id].held
            ]
            _mark(gone, ItemStatus.SKIPPED, SkipReason.GONE)
            _mark(held, ItemStatus.SKIPPED, SkipReason.HELD)
            _mark(not_due, ItemStatus.SKIPPED, SkipReason.NOT_DUE)
            outcome[SkipReason.GONE] += len(gone)
            outcome[SkipReason.HELD] += len(held)
            outcome[SkipReason.NOT_DUE] += len(not_due)
            if ready:
                destroyed = _destroy(policy, ready, actor)
                outcome[ItemStatus.DESTROYED] += destroyed
                outcome[SkipReason.REFUSED] += len(ready) - destroyed
        if not DestructionItem.objects.filter(batch=batch, status=ItemStatus.PENDING).exists():
            batch.status = BatchStatus.DONE
            batch.finished_at = timezone.now()
            bump_version(batch)
            batch.save()
    return dict(outcome)


def _destroy(policy: RetentionPolicy, items: list[DestructionItem], actor: User | None) -> int:
    """Destroy ``items`` (all of ``policy``); a refusal marks them refused, not half-done."""
    reason = f"retention:{policy.key}"
    if policy.kind == RecordKind.CUSTOMER:
        try:
            with transaction.atomic():
                destruction.destroy_customers(
                    [item.object_id for item in items],
                    actor=actor,
                    reason=reason,
                    policy_key=policy.key,
                )
                _mark(items, ItemStatus.DESTROYED)
        except KehuError:
            _mark(items, ItemStatus.SKIPPED, SkipReason.REFUSED)
            return 0
        return len(items)
    leads = {lead.pk: lead for lead in Lead.objects.filter(pk__in=[i.object_id for i in items])}
    done = 0
    for item in items:
        try:
            with transaction.atomic():
                destruction.destroy_lead(leads[item.object_id], actor=actor, reason=reason)
                _mark([item], ItemStatus.DESTROYED)
        except KehuError:
            _mark([item], ItemStatus.SKIPPED, SkipReason.REFUSED)
            continue
        done += 1
    return done


def retention_daily(*, today: date | None = None) -> dict[str, Any]:
    """The daily job: from the review day on, prepare next month's list once (and notify the
    administrators); then destroy the approved records that have come due."""
    today = today or timezone.localdate()
    prepared = None
    month = selectors.next_month(today)
    # any list of the month counts: one an administrator cancelled is not made again
    if (
        today.day >= int(config.get(REVIEW_DAY.key))
        and not DestructionBatch.objects.filter(month=month).exists()
    ):
        prepared = batch_prepare(actor=None, month=month).pk
    executed: dict[int, dict[str, int]] = {}
    approved = DestructionBatch.objects.filter(status=BatchStatus.APPROVED)
    for batch_id in approved.values_list("pk", flat=True):
        executed[batch_id] = batch_execute(batch_id=batch_id, today=today)
    return {"prepared": prepared, "executed": executed}
