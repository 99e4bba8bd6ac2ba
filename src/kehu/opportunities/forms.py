"""UI forms; they only shape input: the services validate and decide."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import Role, User
from kehu.core import custom_fields
from kehu.core.access import is_admin, managed_department_ids
from kehu.customers.models import Customer, Source
from kehu.customers.widgets import CustomerPicker
from kehu.opportunities import requirements
from kehu.opportunities.models import (
    AttachmentKind,
    Currency,
    LossReason,
    NotifyTarget,
    Stage,
    StageKind,
    WorkflowRule,
)

DATE = forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d")


def _control(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput):
            continue
        css = "form-select" if isinstance(widget, forms.Select) else "form-control"
        widget.attrs.setdefault("class", css)


def owner_choices(user: Any) -> Any:
    users = User.objects.filter(is_active=True, role__in=[Role.SALES, Role.MANAGER, Role.ADMIN])
    if is_admin(user):
        return users
    departments = managed_department_ids(user)
    if departments:
        return users.filter(department__in=departments) | User.objects.filter(pk=user.pk)
    return User.objects.filter(pk=user.pk)


class OpportunityForm(custom_fields.CustomFormMixin, forms.Form):
    customer = forms.ModelChoiceField(
        label=_("Customer"), queryset=Customer.objects.none(), widget=CustomerPicker
    )
    name = forms.CharField(label=_("Opportunity name"), max_length=200)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    stage = forms.ModelChoiceField(
        label=_("Stage"), queryset=Stage.objects.none(), required=False, to_field_name="code"
    )
    amount = forms.CharField(label=_("Expected amount"), required=False, max_length=30)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial="CNY")
    expected_close = forms.DateField(label=_("Expected close date"), required=False, widget=DATE)
    source = forms.ChoiceField(
        label=_("Source"), choices=[("", "—"), *Source.choices], required=False
    )
    needs = forms.CharField(
        label=_("Products / needs"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    competitors = forms.CharField(label=_("Competitors"), required=False, max_length=500)
    next_step = forms.CharField(label=_("Next step"), required=False, max_length=300)
    floor_price = forms.CharField(
        label=_("Floor price"),
        required=False,
        max_length=30,
        help_text=_(
            "The least the company accepts (底线价格); only the owner and managers see it."
        ),
    )
    concessions = forms.CharField(
        label=_("Allowed concessions"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What may be conceded in negotiation (可让步条件); sensitive like the amount."),
    )

    def __init__(
        self,
        *args: Any,
        user: Any,
        editing: bool = False,
        hidden_fields: frozenset[str] = frozenset(),
        custom_specs: Sequence[custom_fields.FieldSpec] = (),
        custom: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        custom_fields.add_form_fields(self, custom_specs, custom)
        fields: dict[str, Any] = self.fields
        fields["customer"].queryset = Customer.objects.editable_by(user).order_by("name")
        fields["owner"].queryset = owner_choices(user).order_by("username")
        fields["stage"].queryset = Stage.objects.filter(
            is_active=True, kind=StageKind.OPEN
        ).order_by("order")
        if editing:
            del self.fields["customer"]
            del self.fields["stage"]
        for name in hidden_fields:  # masked for this user: neither shown nor posted
            self.fields.pop(name, None)
        _control(self)

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("custom.")}
        data.pop("customer", None)
        custom = custom_fields.form_values(self)
        if custom is not None:
            data["custom"] = custom
        stage = data.pop("stage", None)
        if stage is not None:
            data["stage"] = stage.code
        if data.get("owner") is None:
            data.pop("owner", None)
        return data


class LoseForm(forms.Form):
    reason = forms.ModelChoiceField(
        label=_("Reason"), queryset=LossReason.objects.filter(is_active=True)
    )
    note = forms.CharField(label=_("Details"), required=False, max_length=1000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _control(self)


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=AttachmentKind.choices)
    file = forms.FileField(label=_("File"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _control(self)


class StageForm(forms.ModelForm):
    requirements = forms.MultipleChoiceField(
        label=_("Required before entering"),
        choices=requirements.requirement_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Stage
        fields = [
            "code",
            "name_zh",
            "name_en",
            "order",
            "kind",
            "forecast_category",
            "default_probability",
            "entry_criterion_zh",
            "entry_criterion_en",
            "actions_zh",
            "actions_en",
            "requirements",
            "is_optional",
            "is_active",
        ]
        widgets = {
            "actions_zh": forms.Textarea(attrs={"rows": 3}),
            "actions_en": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["code"].disabled = True
        _control(self)


class WorkflowRuleForm(forms.ModelForm):
    notify_role = forms.ChoiceField(
        label=_("Role to notify"), choices=[("", "—"), *Role.choices], required=False
    )

    class Meta:
        model = WorkflowRule
        fields = [
            "name",
            "stage",
            "min_amount",
            "notify",
            "notify_role",
            "notify_user",
            "create_task",
            "task_title",
            "task_due_days",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, Any] = self.fields
        fields["notify"].choices = NotifyTarget.choices
        fields["stage"].queryset = Stage.objects.filter(is_active=True).order_by("order")
        fields["notify_user"].queryset = User.objects.filter(is_active=True)
        _control(self)


class LossReasonForm(forms.ModelForm):
    class Meta:
        model = LossReason
        fields = ["name_zh", "name_en", "order", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _control(self)
