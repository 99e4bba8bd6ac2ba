"""Every write of payment plans (回款计划) and received payments (实际回款).

A contract's plan is its installments (due date and amount); the payments are the money
actually received, each with its method and invoice (number and status). The rules:

- whoever may edit the deal (its owner, the owner's managers, admins) plans and records;
  other roles that see the contract read it (403 on writes);
- the installments of a contract add up to at most its amount;
- money is received only against an approved contract; a payment that takes the received
  total above the contract amount needs a reason (``excess_reason``), else 422 on ``amount``;
- the payment that completes the approved contracts of a won deal (received ≥ their total)
  moves the deal to 回款/复购 (``contracts.paid_stage``) through the opportunities service, and
  so does a repeat-order contract approved on a won deal (``repeat_order_approved``, called
  by the review service);
- an installment still unpaid after its due date reminds the owner and their manager once
  (``overdue_notify``, a periodic job).

An installment counts as paid when the contract's received total covers it and every earlier
installment (payments need not name their installment: customers pay in lumps).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Role, User
from kehu.contracts import grading
from kehu.contracts.models import (
    Contract,
    ContractStatus,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentPlan,
)
from kehu.core import audit, config
from kehu.core.access import is_admin, lock_editable
from kehu.core.errors import Conflict, Forbidden, InvalidInput, KehuError, NotFound
from kehu.core.history import stamp
from kehu.core.services import validate
from kehu.notifications.services import notify
from kehu.opportunities import services as deal_services
from kehu.opportunities.models import MAX_AMOUNT, Opportunity, Stage, StageKind

logger = logging.getLogger(__name__)

WON_REQUIRES_FIRST_PAYMENT = config.define(
    "contracts.won_requires_first_payment",
    True,
    gettext_lazy("成交 requires the first payment"),
    group="contracts",
    help=gettext_lazy(
        "When on, a deal enters a stage that lists “First payment received” (成交 by default) "
        "only once a payment is recorded on one of its approved contracts."
    ),
)
PAID_STAGE = config.define(
    "contracts.paid_stage",
    "paid",
    gettext_lazy("Stage reached by the final payment or a repeat order"),
    group="contracts",
    help=gettext_lazy(
        "The code of the won stage (回款/复购 by default) a won deal moves to when its approved "
        "contracts are paid in full or a repeat-order contract is approved."
    ),
)
OVERDUE_GRACE_DAYS = config.define(
    "contracts.payment_overdue_grace_days",
    0,
    gettext_lazy("Days after an installment's due date before it counts as overdue"),
    group="contracts",
    unit=gettext_lazy("days"),
    minimum=0,
    maximum=90,
    help=gettext_lazy(
        "An unpaid installment reminds the deal's owner and their manager once, this many "
        "days after its due date."
    ),
)

WRITER_ROLES = frozenset({Role.SALES, Role.MANAGER, Role.ADMIN})
EARLIEST_DAY = date(2000, 1, 1)
MAX_FUTURE_DUE_DAYS = 3660
PLAN_FIELDS = frozenset({"due_on", "amount", "note"})
PAYMENT_FIELDS = frozenset(
    {
        "amount",
        "received_on",
        "method",
        "invoice_number",
        "invoice_status",
        "plan",
        "excess_reason",
        "note",
    }
)
INVOICE_FIELDS = frozenset({"invoice_number", "invoice_status", "note"})
INVOICED = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.SENT})
ZERO = Decimal("0.00")


# --- who may --------------------------------------------------------------------------------


def payment_may_write(user: User, contract: Contract) -> bool:
    """The deal's owner, the owner's managers and admins plan and record (the page's buttons)."""
    if not (is_admin(user) or user.role in WRITER_ROLES):
        return False
    return Contract.objects.editable_by(user).filter(pk=contract.pk).exists()


def _locked_contract(actor: User, contract: Contract | int) -> Contract:
    """The contract locked for a payments write: 404 out of scope, 403 read-only or a role
    that does not plan or record money."""
    pk = contract if isinstance(contract, int) else contract.pk
    locked = lock_editable(Contract.objects.all(), actor, pk=pk)
    if not (is_admin(actor) or actor.role in WRITER_ROLES):
        raise Forbidden(_("Only the deal's owner, their managers and administrators may do this."))
    return locked


# --- input cleaning ---------------------------------------------------------------------------


def _amount(value: Any, name: str = "amount") -> Decimal:
    if value is None or value == "" or isinstance(value, bool):
        raise InvalidInput(errors={name: [_("Enter the amount.")]})
    try:
        amount = Decimal(str(value).replace(",", "").replace("¥", "").strip())
    except (InvalidOperation, ValueError) as error:
        raise InvalidInput(errors={name: [_("Enter the amount as a number.")]}) from error
    if not amount.is_finite():
        raise InvalidInput(errors={name: [_("Enter the amount as a number.")]})
    if amount <= 0:
        raise InvalidInput(errors={name: [_("The amount must be more than zero.")]})
    if amount > MAX_AMOUNT:
        raise InvalidInput(
            errors={name: [_("The amount cannot exceed 10,000,000,000; check the figure.")]}
        )
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(errors={name: [_("Enter the amount in yuan and fen (two decimals).")]})
    return amount.quantize(Decimal("0.01"))


def _day(value: Any, name: str) -> date:
    if value is None or value == "":
        raise InvalidInput(errors={name: [_("Enter the date.")]})
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError as error:
            raise InvalidInput(errors={name: [_("Enter the date as YYYY-MM-DD.")]}) from error
    if day < EARLIEST_DAY:
        raise InvalidInput(errors={name: [_("Enter a date after 2000-01-01.")]})
    return day


def _text(value: Any, name: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(errors={name: [_("Enter text.")]})
    text = value.strip()
    if len(text) > limit:
        raise InvalidInput(
            errors={name: [_("Keep this under %(limit)s characters.") % {"limit": limit}]}
        )
    return text


def _choice(value: Any, name: str, choices: list[str]) -> str:
    if value not in choices:
        raise InvalidInput(errors={name: [_("Choose a value from the list.")]})
    return str(value)


def _unknown(data: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(
            errors={name: [_("This field cannot be changed here.")] for name in unknown}
        )


# --- figures ------------------------------------------------------------------------------------


def received_total(contract: Contract) -> Decimal:
    total = contract.payments.aggregate(total=Sum("amount"))["total"]
    return total or ZERO


def planned_total(contract: Contract, *, excluding: int | None = None) -> Decimal:
    plans = contract.plans.all()
    if excluding is not None:
        plans = plans.exclude(pk=excluding)
    return plans.aggregate(total=Sum("amount"))["total"] or ZERO


@dataclass(frozen=True)
class Installment:
    """One installment with what the received total covers of it."""

    plan: PaymentPlan
    paid: Decimal
    outstanding: Decimal
    overdue: bool

    @property
    def settled(self) -> bool:
        return self.outstanding <= 0


def installments(
    plans: list[PaymentPlan], received: Decimal, today: date | None = None
) -> list[Installment]:
    """The plan in due order with the received total allocated oldest first."""
    today = today or timezone.localdate()
    left = received
    result: list[Installment] = []
    for plan in sorted(plans, key=lambda plan: (plan.due_on, plan.sequence, plan.pk or 0)):
        paid = min(left, plan.amount)
        left -= paid
        outstanding = plan.amount - paid
        result.append(Installment(plan, paid, outstanding, outstanding > 0 and plan.due_on < today))
    return result


def _renumber(contract: Contract) -> None:
    """Installments are numbered 1, 2, … in due order."""
    plans = list(contract.plans.order_by("due_on", "id"))
    changed = []
    for number, plan in enumerate(plans, start=1):
        if plan.sequence != number:
            plan.sequence = number
            changed.append(plan)
    if changed:
        PaymentPlan.objects.bulk_update(changed, ["sequence"])


# --- payment plans ----------------------------------------------------------------------------


def _check_plan_open(contract: Contract) -> None:
    if contract.status == ContractStatus.VOID:
        raise Conflict(_("This contract is void; plan its replacement."), code="contract_void")


def _check_plan_total(contract: Contract, amount: Decimal, excluding: int | None) -> None:
    others = planned_total(contract, excluding=excluding)
    if others + amount > contract.amount:
        left = max(contract.amount - others, ZERO)
        raise InvalidInput(
            errors={
                "amount": [
                    _(
                        "The installments would add up to more than the contract amount "
                        "(%(total)s); at most %(left)s is left to plan."
                    )
                    % {"total": contract.amount, "left": left}
                ]
            },
            code="plan_exceeds_contract",
        )


def _check_due(day: date) -> None:
    if day > timezone.localdate() + timedelta(days=MAX_FUTURE_DUE_DAYS):
        raise InvalidInput(errors={"due_on": [_("The due date is more than ten years away.")]})


@transaction.atomic
def plan_create(*, actor: User, contract: Contract | int, data: dict[str, Any]) -> PaymentPlan:
    """Add an installment: ``due_on``, ``amount`` and an optional ``note``."""
    locked = _locked_contract(actor, contract)
    _check_plan_open(locked)
    _unknown(data, PLAN_FIELDS)
    due_on = _day(data.get("due_on"), "due_on")
    _check_due(due_on)
    amount = _amount(data.get("amount"))
    _check_plan_total(locked, amount, None)
    plan = PaymentPlan(
        contract=locked,
        sequence=locked.plans.count() + 1,
        due_on=due_on,
        amount=amount,
        note=_text(data.get("note"), "note", 300),
    )
    validate(plan)
    plan.save()
    _renumber(locked)
    plan.refresh_from_db(fields=["sequence"])
    return plan


def _locked_plan(actor: User, plan: PaymentPlan | int) -> tuple[Contract, PaymentPlan]:
    pk = plan if isinstance(plan, int) else plan.pk
    contract_id = PaymentPlan.objects.filter(pk=pk).values_list("contract_id", flat=True).first()
    if contract_id is None:
        raise NotFound("payment plan")
    locked = _locked_contract(actor, contract_id)
    row = PaymentPlan.objects.select_for_update().filter(pk=pk, contract=locked).first()
    if row is None:
        raise NotFound("payment plan")
    return locked, row


@transaction.atomic
def plan_update(*, actor: User, plan: PaymentPlan | int, data: dict[str, Any]) -> PaymentPlan:
    contract, row = _locked_plan(actor, plan)
    _check_plan_open(contract)
    _unknown(data, PLAN_FIELDS)
    if "due_on" in data:
        row.due_on = _day(data["due_on"], "due_on")
        _check_due(row.due_on)
        row.overdue_notified_at = None  # a new due date is a new promise
    if "amount" in data:
        row.amount = _amount(data["amount"])
        _check_plan_total(contract, row.amount, row.pk)
    if "note" in data:
        row.note = _text(data["note"], "note", 300)
    validate(row)
    row.save()
    _renumber(contract)
    row.refresh_from_db(fields=["sequence"])
    return row


@audit.audited("contracts.paymentplan_deleted", target="plan", model="contracts.paymentplan")
@transaction.atomic
def plan_delete(*, actor: User, plan: PaymentPlan | int) -> None:
    contract, row = _locked_plan(actor, plan)
    row.delete()
    _renumber(contract)


# --- payments ---------------------------------------------------------------------------------


def _clean_invoice(payment: Payment, data: dict[str, Any]) -> None:
    if "invoice_number" in data:
        payment.invoice_number = _text(data["invoice_number"], "invoice_number", 60)
    if "invoice_status" in data:
        payment.invoice_status = _choice(
            data["invoice_status"], "invoice_status", list(InvoiceStatus.values)
        )
    if "note" in data:
        payment.note = _text(data["note"], "note", 500)
    if payment.invoice_status in INVOICED and not payment.invoice_number:
        raise InvalidInput(
            errors={"invoice_number": [_("Enter the number of the issued invoice.")]}
        )


@transaction.atomic
def payment_record(*, actor: User, contract: Contract | int, data: dict[str, Any]) -> Payment:
    """Record money received against an approved contract.

    ``data``: ``amount``, ``received_on`` (not in the future), ``method``, ``invoice_number``,
    ``invoice_status``, ``plan`` (an installment of this contract, optional), ``note``, and
    ``excess_reason`` when the payment takes the received total above the contract amount.
    The payment that completes a won deal's approved contracts moves it to 回款/复购.
    """
    locked = _locked_contract(actor, contract)
    if locked.status != ContractStatus.APPROVED:
        raise Conflict(
            _("Payments are recorded against an approved contract; this one is %(status)s.")
            % {"status": locked.get_status_display()},
            code="contract_not_approved",
        )
    _unknown(data, PAYMENT_FIELDS)
    amount = _amount(data.get("amount"))
    received_on = _day(data.get("received_on"), "received_on")
    if received_on > timezone.localdate():
        raise InvalidInput(errors={"received_on": [_("A payment cannot be received in future.")]})
    method = _choice(
        data.get("method") or PaymentMethod.BANK_TRANSFER, "method", list(PaymentMethod.values)
    )
    plan = None
    plan_id = data.get("plan")
    if plan_id not in (None, ""):
        plan_pk = plan_id.pk if isinstance(plan_id, PaymentPlan) else plan_id
        plan = (
            locked.plans.filter(pk=plan_pk).first()
            if isinstance(plan_pk, int) or str(plan_pk).isdigit()
            else None
        )
        if plan is None:
            raise InvalidInput(errors={"plan": [_("Choose an installment of this contract.")]})
    excess_reason = _text(data.get("excess_reason"), "excess_reason", 500)
    received = received_total(locked)
    open_amount = locked.amount - received
    if amount > open_amount and not excess_reason:
        raise InvalidInput(
            _(
                "The payment is more than the contract's open amount (%(open)s); "
                "give the reason for the excess."
            )
            % {"open": max(open_amount, ZERO)},
            code="payment_exceeds_contract",
            errors={
                "amount": [
                    _(
                        "More than the open amount of %(open)s: give a reason for the excess "
                        "or correct the amount."
                    )
                    % {"open": max(open_amount, ZERO)}
                ]
            },
        )
    if amount <= open_amount:
        excess_reason = ""
    payment = Payment(
        contract=locked,
        plan=plan,
        amount=amount,
        received_on=received_on,
        method=method,
        excess_reason=excess_reason,
        recorded_by=actor,
    )
    _clean_invoice(payment, data)
    validate(payment)
    stamp(payment, actor=actor, reason=_("Payment recorded"))
    payment.save()
    deal_collection_advance(actor=actor, opportunity_id=locked.opportunity_id)
    grading.regrade_later(locked, reason=_("Grade recomputed: payment record"))
    return payment


def _locked_payment(actor: User, payment: Payment | int) -> tuple[Contract, Payment]:
    pk = payment if isinstance(payment, int) else payment.pk
    contract_id = Payment.objects.filter(pk=pk).values_list("contract_id", flat=True).first()
    if contract_id is None:
        raise NotFound("payment")
    locked = _locked_contract(actor, contract_id)
    row = Payment.objects.select_for_update().filter(pk=pk, contract=locked).first()
    if row is None:
        raise NotFound("payment")
    return locked, row


@transaction.atomic
def payment_update_invoice(*, actor: User, payment: Payment | int, data: dict[str, Any]) -> Payment:
    """Change a payment's invoice number, invoice status or note (the amount, date and method
    are what the bank says: a wrong one is deleted and recorded again)."""
    _contract, row = _locked_payment(actor, payment)
    _unknown(data, INVOICE_FIELDS)
    before = (row.invoice_number, row.invoice_status, row.note)
    _clean_invoice(row, data)
    if (row.invoice_number, row.invoice_status, row.note) == before:
        return row
    validate(row)
    stamp(row, actor=actor, reason=_("Invoice updated"))
    row.save()
    return row


@audit.audited("contracts.payment_deleted", target="payment", model="contracts.payment")
@transaction.atomic
def payment_delete(*, actor: User, payment: Payment | int, reason: str) -> None:
    """Remove a payment recorded by mistake: managers and admins, with a reason (history)."""
    contract, row = _locked_payment(actor, payment)
    if not (is_admin(actor) or actor.role == Role.MANAGER):
        raise Forbidden(_("Only managers and administrators may delete a payment."))
    reason = _text(reason, "reason", 100)
    if not reason:
        raise InvalidInput(errors={"reason": [_("Say why the payment is deleted.")]})
    stamp(row, actor=actor, reason=reason)
    row.delete()
    grading.regrade_later(contract, reason=_("Grade recomputed: payment record"))


# --- 回款/复购 ---------------------------------------------------------------------------


def paid_stage_code() -> str:
    return str(config.get(PAID_STAGE.key))


def paid_stage() -> Stage | None:
    return Stage.objects.filter(code=paid_stage_code(), kind=StageKind.WON, is_active=True).first()


def deal_fully_paid(opportunity_id: int) -> bool:
    """The deal has approved contracts and their payments cover their total."""
    approved = Contract.objects.filter(
        opportunity_id=opportunity_id, status=ContractStatus.APPROVED
    )
    total = approved.aggregate(total=Sum("amount"))["total"]
    if not total:
        return False
    received = Payment.objects.filter(contract__in=approved).aggregate(total=Sum("amount"))
    return (received["total"] or ZERO) >= total


def _move_to_paid(*, actor: User, opportunity_id: int, why: str) -> bool:
    """Move a won deal (not yet there) to the paid stage; False when it does not apply."""
    target = paid_stage()
    deal = Opportunity.objects.select_related("stage").filter(pk=opportunity_id).first()
    if target is None or deal is None:
        return False
    if deal.stage.kind != StageKind.WON or deal.stage_id == target.pk:
        return False
    try:
        with transaction.atomic():
            deal_services.opportunity_move_stage(actor=actor, opportunity=deal, stage=target)
    except (KehuError, NotFound) as error:
        # the deal's stage rules refused (an admin added requirements to the stage): the
        # payment or approval stands, the owner moves the deal once the rule is met
        logger.info("deal %s not moved to %s (%s): %s", deal.pk, target.code, why, error)
        return False
    return True


def deal_collection_advance(*, actor: User, opportunity_id: int) -> bool:
    """After a payment: a won deal whose approved contracts are paid in full enters 回款/复购."""
    if not deal_fully_paid(opportunity_id):
        return False
    return _move_to_paid(actor=actor, opportunity_id=opportunity_id, why="final payment")


def repeat_order_approved(*, actor: User, contract: Contract) -> bool:
    """An approved repeat order (复购) moves its won deal on to 回款/复购."""
    if not contract.is_repeat_order:
        return False
    return _move_to_paid(actor=actor, opportunity_id=contract.opportunity_id, why="repeat order")


# --- overdue installments ------------------------------------------------------------------------


def overdue_notify(*, today: date | None = None) -> int:
    """Remind the owner and their manager once of each installment unpaid past its due date
    (plus ``contracts.payment_overdue_grace_days``). Returns the installments reminded of."""
    today = today or timezone.localdate()
    grace = int(config.get(OVERDUE_GRACE_DAYS.key))
    cutoff = today - timedelta(days=grace)
    candidates = PaymentPlan.objects.filter(
        due_on__lt=cutoff,
        overdue_notified_at__isnull=True,
        contract__status=ContractStatus.APPROVED,
    ).values_list("contract_id", flat=True)
    contract_ids = sorted(set(candidates))
    if not contract_ids:
        return 0
    contracts = Contract.objects.filter(pk__in=contract_ids).select_related(
        "opportunity__owner", "opportunity__customer"
    )
    plans_by_contract: dict[int, list[PaymentPlan]] = {pk: [] for pk in contract_ids}
    for plan in PaymentPlan.objects.filter(contract_id__in=contract_ids):
        plans_by_contract[plan.contract_id].append(plan)
    received = dict(
        Payment.objects.filter(contract_id__in=contract_ids)
        .values("contract_id")
        .annotate(total=Sum("amount"))
        .values_list("contract_id", "total")
    )
    reminded = 0
    now = timezone.now()
    for contract in contracts:
        rows = installments(plans_by_contract[contract.pk], received.get(contract.pk) or ZERO)
        due = [
            row
            for row in rows
            if row.outstanding > 0
            and row.plan.due_on < cutoff
            and row.plan.overdue_notified_at is None
        ]
        for row in due:
            with transaction.atomic():
                claimed = PaymentPlan.objects.filter(
                    pk=row.plan.pk, overdue_notified_at__isnull=True
                ).update(overdue_notified_at=now)
                if not claimed:
                    continue
                deal = contract.opportunity
                recipients = [deal.owner, *deal_services.supervisors_of(deal.owner)]
                notify(
                    recipients=recipients,
                    kind="payment_overdue",
                    title=_("Overdue payment: %(contract)s installment %(n)s")
                    % {"contract": contract.number, "n": row.plan.sequence},
                    body=_(
                        "%(customer)s: %(outstanding)s of installment %(n)s was due on "
                        "%(due)s (deal %(deal)s)."
                    )
                    % {
                        "customer": deal.customer.name,
                        "outstanding": row.outstanding,
                        "n": row.plan.sequence,
                        "due": row.plan.due_on.isoformat(),
                        "deal": deal.name,
                    },
                    url=reverse("opportunities:detail", args=[deal.pk]) + "#deal-section-payments",
                    dedupe_key=f"payment-overdue:{row.plan.pk}:{row.plan.due_on.isoformat()}",
                )
                reminded += 1
    return reminded


# --- the stage requirement ----------------------------------------------------------------------


def first_payment_met(opportunity: Opportunity) -> bool:
    """``first_payment``: met when the setting is off or an approved contract of the deal has
    a payment."""
    if not config.get(WON_REQUIRES_FIRST_PAYMENT.key):
        return True
    if not opportunity.pk:
        return False
    return Payment.objects.filter(
        contract__opportunity_id=opportunity.pk, contract__status=ContractStatus.APPROVED
    ).exists()
