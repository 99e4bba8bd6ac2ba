"""UI forms of the leads app; they only parse input, the services validate the business rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import Department, Role, User
from kehu.core import custom_fields
from kehu.core.numbers import IdsChoiceField
from kehu.customers.models import Industry, Priority, Region, Source
from kehu.leads.models import InvalidReason, Urgency

BOOTSTRAP = {"class": "form-control"}
SELECT = {"class": "form-select"}


class RegionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.parent.name} · {obj.name}" if obj.parent_id else str(obj.name)


def region_field(*, required: bool = False) -> RegionChoiceField:
    return RegionChoiceField(
        queryset=Region.objects.select_related("parent").order_by("code"),
        required=required,
        label=_("Region"),
        widget=forms.Select(attrs=SELECT),
    )


def industry_field(*, required: bool = False) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Industry.objects.select_related("parent").order_by("code"),
        required=required,
        label=_("Industry"),
        widget=forms.Select(attrs=SELECT),
    )


class LeadForm(custom_fields.CustomFormMixin, forms.Form):
    company_name = forms.CharField(
        label=_("Company name"), max_length=200, required=False, widget=forms.TextInput(BOOTSTRAP)
    )
    contact_name = forms.CharField(
        label=_("Contact name"), max_length=100, widget=forms.TextInput(BOOTSTRAP)
    )
    mobile = forms.CharField(
        label=_("Mobile"), max_length=32, required=False, widget=forms.TextInput(BOOTSTRAP)
    )
    email = forms.CharField(
        label=_("E-mail"), max_length=254, required=False, widget=forms.EmailInput(BOOTSTRAP)
    )
    region = region_field()
    industry = industry_field()
    need = forms.CharField(
        label=_("Need"), required=False, widget=forms.Textarea({**BOOTSTRAP, "rows": 3})
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"),
        choices=Urgency.choices,
        initial=Urgency.MEDIUM,
        widget=forms.Select(attrs=SELECT),
    )
    estimated_value = forms.DecimalField(
        label=_("Estimated value (yuan)"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(BOOTSTRAP),
    )
    priority = forms.ChoiceField(
        label=_("Priority"),
        required=False,
        choices=[("", _("By the priority rules")), *Priority.choices],
        widget=forms.Select(attrs=SELECT),
    )
    source = forms.ChoiceField(
        label=_("Source"), choices=Source.choices, widget=forms.Select(attrs=SELECT)
    )
    source_detail = forms.CharField(
        label=_("Source detail"),
        max_length=200,
        required=False,
        help_text=_("E.g. 展会-2024年3月上海行业展-展位A12"),
        widget=forms.TextInput(BOOTSTRAP),
    )

    def __init__(
        self,
        *args: Any,
        hidden_fields: Iterable[str] = (),
        custom_specs: Sequence[custom_fields.FieldSpec] = (),
        custom: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name in hidden_fields:
            self.fields.pop(name, None)
        custom_fields.add_form_fields(self, custom_specs, custom)

    def service_data(self, *, changed_only: bool = False) -> dict[str, Any]:
        """The lead's values for the service (only the changed ones with ``changed_only``),
        the custom ones as ``custom`` (all of them, once any changed)."""
        changed = set(self.changed_data)
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if not name.startswith("custom.") and (not changed_only or name in changed)
        }
        custom = custom_fields.form_values(self)
        if custom is not None and (
            not changed_only or any(name.startswith("custom.") for name in changed)
        ):
            data["custom"] = custom
        return data


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(), label=_("Assign to"), widget=forms.Select(attrs=SELECT)
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=500, widget=forms.TextInput(BOOTSTRAP)
    )

    def __init__(self, *args: Any, assignees: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = assignees if assignees is not None else User.objects.none()


class InvalidateForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason"), choices=InvalidReason.choices, widget=forms.Select(attrs=SELECT)
    )
    note = forms.CharField(
        label=_("Details"),
        required=False,
        max_length=500,
        widget=forms.TextInput(BOOTSTRAP),
        help_text=_("Required for “Other”."),
    )


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("close", _("Close the lead")), ("reassign", _("Back into assignment"))],
        widget=forms.Select(attrs=SELECT),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=500, widget=forms.TextInput(BOOTSTRAP)
    )


class ConvertForm(forms.Form):
    customer_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    force = forms.BooleanField(
        required=False, label=_("Create a new customer anyway"), widget=forms.HiddenInput
    )
    create_opportunity = forms.BooleanField(
        required=False, label=_("Also create an opportunity (stage 初步接触)"), initial=True
    )
    opportunity_name = forms.CharField(
        label=_("Opportunity name"),
        required=False,
        max_length=200,
        widget=forms.TextInput(BOOTSTRAP),
    )


def _sales_users() -> Any:
    return User.objects.filter(is_active=True, role__in=[Role.SALES, Role.MANAGER]).select_related(
        "department"
    )


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, widget=forms.TextInput(BOOTSTRAP))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    region_codes = forms.ModelMultipleChoiceField(
        queryset=Region.objects.select_related("parent").order_by("code"),
        required=False,
        label=_("Regions (province or city)"),
        widget=forms.SelectMultiple(attrs={**SELECT, "size": 8}),
        help_text=_("A province matches every city in it. Empty: any region."),
    )
    industry_codes = forms.ModelMultipleChoiceField(
        queryset=Industry.objects.select_related("parent").order_by("code"),
        required=False,
        label=_("Industries"),
        widget=forms.SelectMultiple(attrs={**SELECT, "size": 8}),
        help_text=_("A section matches its divisions. Empty: any industry."),
    )
    sources = forms.MultipleChoiceField(
        choices=Source.choices,
        required=False,
        label=_("Sources"),
        widget=forms.SelectMultiple(attrs={**SELECT, "size": 4}),
    )
    priorities = forms.MultipleChoiceField(
        choices=Priority.choices,
        required=False,
        label=_("Priorities"),
        widget=forms.SelectMultiple(attrs={**SELECT, "size": 3}),
    )
    department = forms.ModelChoiceField(
        queryset=Department.objects.all(),
        required=False,
        label=_("Department"),
        widget=forms.Select(attrs=SELECT),
        help_text=_("Round-robin among its sales reps when no reps are chosen."),
    )
    reps = IdsChoiceField(
        queryset=_sales_users(),
        required=False,
        label=_("Reps (round-robin)"),
        widget=forms.SelectMultiple(attrs={**SELECT, "size": 6}),
    )

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["region_codes"] = [region.code for region in data["region_codes"]]
        data["industry_codes"] = [industry.code for industry in data["industry_codes"]]
        return data


class WebFormForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, widget=forms.TextInput(BOOTSTRAP))
    source = forms.ChoiceField(
        label=_("Source"),
        choices=Source.choices,
        initial=Source.WEBSITE,
        widget=forms.Select(attrs=SELECT),
    )
    source_detail = forms.CharField(
        label=_("Source detail"), max_length=200, required=False, widget=forms.TextInput(BOOTSTRAP)
    )
    campaign = forms.CharField(
        label=_("Campaign"), max_length=200, required=False, widget=forms.TextInput(BOOTSTRAP)
    )
    redirect_url = forms.URLField(
        label=_("Thank-you page"),
        required=False,
        assume_scheme="https",
        widget=forms.URLInput(BOOTSTRAP),
    )


class PublicLeadForm(forms.Form):
    """The hosted public form (the embeddable snippet posts the same field names)."""

    company_name = forms.CharField(
        label=_("Company name"), max_length=200, required=False, widget=forms.TextInput(BOOTSTRAP)
    )
    contact_name = forms.CharField(
        label=_("Your name"), max_length=100, widget=forms.TextInput(BOOTSTRAP)
    )
    mobile = forms.CharField(label=_("Mobile"), max_length=32, widget=forms.TextInput(BOOTSTRAP))
    email = forms.CharField(
        label=_("E-mail"), max_length=254, required=False, widget=forms.EmailInput(BOOTSTRAP)
    )
    need = forms.CharField(
        label=_("What do you need?"),
        required=False,
        widget=forms.Textarea({**BOOTSTRAP, "rows": 3}),
    )
