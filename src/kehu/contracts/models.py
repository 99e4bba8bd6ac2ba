"""Contracts (合同) and payments (回款) of won and nearly won deals.

A deal in 谈判签约 gets a contract drafted by its owner, reviewed by the owner's manager, and
only an approved contract lets the deal be 成交. A contract carries a payment plan
(installments with due dates) and the payments actually received; the final payment (or a
repeat order) takes the deal on to 回款/复购. Everything is scoped through the deal: who sees
the opportunity sees its contract, and amounts are masked like the deal's amount.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kehu.core.access import AccessPolicy, ScopedQuerySet
from kehu.core.history import HISTORY_BASES
from kehu.core.models import TimestampedModel, VersionedModel
from kehu.opportunities.models import MAX_AMOUNT, Currency

AMOUNT_VALIDATORS = [MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_AMOUNT)]


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    RETURNED = "returned", _("Returned for changes")
    APPROVED = "approved", _("Approved")
    VOID = "void", _("Void")


class Contract(VersionedModel):
    opportunity = models.ForeignKey(
        "opportunities.Opportunity",
        verbose_name=_("opportunity"),
        on_delete=models.PROTECT,
        related_name="contracts",
    )
    number = models.CharField(_("contract number"), max_length=60, unique=True)
    title = models.CharField(_("title"), max_length=200)
    amount = models.DecimalField(
        _("contract amount"), max_digits=14, decimal_places=2, validators=AMOUNT_VALIDATORS
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY
    )
    signed_on = models.DateField(_("signed on"), null=True, blank=True)
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    terms = models.TextField(_("terms"), max_length=20000, blank=True)
    file = models.FileField(_("contract file"), upload_to="contracts/%Y/%m/", blank=True)
    status = models.CharField(
        _("contract status"),
        max_length=12,
        choices=ContractStatus.choices,
        default=ContractStatus.DRAFT,
    )
    # The handbooks: drafted within 2 working days of the agreement; the drafting task is due
    # then and escalates to the manager when late.
    draft_due = models.DateField(_("draft due"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted for review"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    review_comment = models.TextField(_("review comment"), max_length=2000, blank=True)
    is_repeat_order = models.BooleanField(_("repeat order"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("drafted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects: ClassVar[ScopedQuerySet[Contract]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(
        owner_field="opportunity__owner",
        department_field="opportunity__department",
        sensitive_fields=("amount",),
    )
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "draft_due"], name="contract_status_due"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class ContractReview(models.Model):
    """One review decision; the contract keeps the latest, this keeps them all."""

    class Decision(models.TextChoices):
        APPROVED = "approved", _("Approved")
        RETURNED = "returned", _("Returned for changes")

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="reviews"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    comment = models.TextField(_("comment"), max_length=2000, blank=True)
    decided_at = models.DateTimeField(_("decided"), auto_now_add=True)

    class Meta:
        verbose_name = _("contract review")
        verbose_name_plural = _("contract reviews")
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.decision}"


class PaymentPlan(models.Model):
    """One installment of a contract's payment plan (回款计划)."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="plans"
    )
    sequence = models.PositiveSmallIntegerField(_("installment"), default=1)
    due_on = models.DateField(_("due on"))
    amount = models.DecimalField(
        _("planned amount"), max_digits=14, decimal_places=2, validators=AMOUNT_VALIDATORS
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("payment plan")
        verbose_name_plural = _("payment plans")
        ordering = ["contract", "sequence", "due_on"]
        indexes = [models.Index(fields=["due_on"], name="payment_plan_due")]

    def __str__(self) -> str:
        return f"{self.contract_id} #{self.sequence} {self.due_on}"


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CASH = "cash", _("Cash")
    CHEQUE = "cheque", _("Cheque")
    ACCEPTANCE_BILL = "acceptance_bill", _("Bank acceptance bill")
    ALIPAY = "alipay", _("Alipay")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    OTHER = "other", _("Other")


class InvoiceStatus(models.TextChoices):
    NOT_ISSUED = "not_issued", _("Not issued")
    ISSUED = "issued", _("Issued")
    SENT = "sent", _("Sent to customer")
    VOID = "void", _("Void")


class Payment(TimestampedModel):
    """Money received against a contract (实际回款)."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="payments"
    )
    plan = models.ForeignKey(
        PaymentPlan,
        verbose_name=_("installment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="payments",
    )
    amount = models.DecimalField(
        _("amount received"), max_digits=14, decimal_places=2, validators=AMOUNT_VALIDATORS
    )
    received_on = models.DateField(_("received on"))
    method = models.CharField(
        _("payment method"),
        max_length=20,
        choices=PaymentMethod.choices,
        default=PaymentMethod.BANK_TRANSFER,
    )
    invoice_number = models.CharField(_("invoice number"), max_length=60, blank=True)
    invoice_status = models.CharField(
        _("invoice status"),
        max_length=12,
        choices=InvoiceStatus.choices,
        default=InvoiceStatus.NOT_ISSUED,
    )
    # Required when the payment takes the received total above the contract amount.
    excess_reason = models.CharField(
        _("reason for exceeding the contract"), max_length=500, blank=True
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects: ClassVar[ScopedQuerySet[Payment]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(
        owner_field="contract__opportunity__owner",
        department_field="contract__opportunity__department",
        sensitive_fields=("amount",),
    )
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-received_on", "-id"]
        indexes = [models.Index(fields=["received_on"], name="payment_received")]
