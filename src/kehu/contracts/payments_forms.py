"""The payments area's UI forms; they only shape input: the services validate and decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.contracts.models import InvoiceStatus, PaymentMethod, PaymentPlan

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PlanForm(forms.Form):
    due_on = forms.DateField(label=_("Due on"), widget=DATE)
    amount = forms.CharField(label=_("Planned amount"), max_length=30)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class PaymentForm(forms.Form):
    amount = forms.CharField(label=_("Amount received"), max_length=30)
    received_on = forms.DateField(label=_("Received on"), widget=DATE)
    method = forms.ChoiceField(label=_("Payment method"), choices=PaymentMethod.choices)
    plan = forms.TypedChoiceField(
        label=_("Installment"), required=False, coerce=int, empty_value=None
    )
    invoice_number = forms.CharField(label=_("Invoice number"), max_length=60, required=False)
    invoice_status = forms.ChoiceField(label=_("Invoice status"), choices=InvoiceStatus.choices)
    excess_reason = forms.CharField(
        label=_("Reason for exceeding the contract"),
        max_length=500,
        required=False,
        help_text=_("Only when the payment is more than the contract's open amount."),
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, plans: list[PaymentPlan] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("received_on", timezone.localdate())
        super().__init__(*args, **kwargs)
        plan_field: Any = self.fields["plan"]
        plan_field.choices = [("", "—")] + [
            (
                plan.pk,
                _("Installment %(n)s, due %(due)s") % {"n": plan.sequence, "due": plan.due_on},
            )
            for plan in plans or []
        ]

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class InvoiceForm(forms.Form):
    invoice_number = forms.CharField(label=_("Invoice number"), max_length=60, required=False)
    invoice_status = forms.ChoiceField(label=_("Invoice status"), choices=InvoiceStatus.choices)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class DeleteForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=100)
