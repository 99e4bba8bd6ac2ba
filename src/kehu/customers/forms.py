"""UI forms. They parse input into plain values; the services validate and decide."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import User
from kehu.core import custom_fields
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerKind,
    CustomerStatus,
    EmployeesBand,
    Grade,
    Industry,
    Priority,
    Region,
    RevenueBand,
    Source,
    VerificationChannel,
)

BLANK = [("", "—")]


def bootstrap(form: forms.BaseForm) -> None:
    """Bootstrap classes on every widget (the templates render fields one by one)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, (forms.CheckboxInput, forms.CheckboxSelectMultiple)):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        if css and css not in widget.attrs.get("class", ""):
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


def field_label(name: str) -> str:
    model_field = Customer._meta.get_field(name)
    return str(getattr(model_field, "verbose_name", name))


def industry_choices() -> list[Any]:
    sections: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for code, name, parent_id in Industry.objects.values_list("code", "name", "parent_id"):
        if parent_id is None:
            sections.setdefault(code, (name, []))
            sections[code] = (name, sections[code][1])
        else:
            sections.setdefault(parent_id, ("", []))[1].append((code, f"{code} {name}"))
    choices: list[Any] = list(BLANK)
    for code, (name, divisions) in sorted(sections.items()):
        choices.append((f"{code} {name}", [(code, f"{code} {name}"), *divisions]))
    return choices


def region_choices() -> list[Any]:
    provinces: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for code, name, parent_id in Region.objects.values_list("code", "name", "parent_id"):
        if parent_id is None:
            provinces[code] = (name, provinces.get(code, ("", []))[1])
        else:
            provinces.setdefault(parent_id, ("", []))[1].append((code, name))
    choices: list[Any] = list(BLANK)
    for code, (name, cities) in sorted(provinces.items()):
        choices.append((name, [(code, name), *[(c, f"{name} {n}") for c, n in cities]]))
    return choices


def _verifiable_choices() -> list[tuple[str, str]]:
    names = [
        "credit_code",
        "industry",
        "region",
        "employees_band",
        "revenue_band",
        "source",
        "initial_need",
        "address",
        "website",
        "founded_on",
        "main_business",
        "annual_budget",
    ]
    return [(name, field_label(name)) for name in names]


class CustomerForm(custom_fields.CustomFormMixin, forms.Form):
    name = forms.CharField(label=_("Customer name"), max_length=200)
    kind = forms.ChoiceField(label=_("Type"), choices=CustomerKind.choices)
    credit_code = forms.CharField(
        label=_("Unified social credit code"), max_length=30, required=False
    )
    industry = forms.ChoiceField(label=_("Industry"), required=False)
    region = forms.ChoiceField(label=_("Region"), required=False)
    employees_band = forms.ChoiceField(
        label=_("Employees"), choices=BLANK + list(EmployeesBand.choices), required=False
    )
    revenue_band = forms.ChoiceField(
        label=_("Annual revenue"), choices=BLANK + list(RevenueBand.choices), required=False
    )
    source = forms.ChoiceField(
        label=_("Source"), choices=BLANK + list(Source.choices), required=False
    )
    source_detail = forms.CharField(label=_("Source detail"), max_length=200, required=False)
    initial_need = forms.CharField(
        label=_("Initial need"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    website = forms.CharField(label=_("Website"), max_length=300, required=False)
    social_accounts = forms.CharField(label=_("Social accounts"), max_length=300, required=False)
    founded_on = forms.DateField(
        label=_("Founding date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    main_business = forms.CharField(label=_("Main business"), max_length=500, required=False)
    competitors = forms.CharField(label=_("Competitors"), max_length=500, required=False)
    notes = forms.CharField(
        label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    cooperation_history = forms.CharField(
        label=_("Cooperation history"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    annual_budget = forms.DecimalField(
        label=_("Annual budget (yuan)"), required=False, min_value=0, max_digits=14
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=BLANK + list(Priority.choices), required=False
    )
    status = forms.ChoiceField(label=_("Status"), choices=CustomerStatus.choices)
    to_verify = forms.MultipleChoiceField(
        label=_("To be verified (待核实)"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=500,
        help_text=_("Separate tags with commas."),
    )

    def __init__(
        self,
        *args: Any,
        hidden_fields: frozenset[str] = frozenset(),
        custom_specs: Sequence[custom_fields.FieldSpec] = (),
        custom: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        custom_fields.add_form_fields(self, custom_specs, custom)
        self.fields["industry"].choices = industry_choices()  # type: ignore[attr-defined]
        self.fields["region"].choices = region_choices()  # type: ignore[attr-defined]
        self.fields["to_verify"].choices = [  # type: ignore[attr-defined]
            (name, label) for name, label in _verifiable_choices() if name not in hidden_fields
        ]
        for name in hidden_fields:
            self.fields.pop(name, None)
        bootstrap(self)

    def service_data(self) -> dict[str, Any]:
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in {"tags", "force"}
            and not name.startswith("contact_")
            and not name.startswith("custom.")
        }
        custom = custom_fields.form_values(self)
        if custom is not None:
            data["custom"] = custom
        for name in ("industry", "region", "annual_budget", "founded_on", "credit_code"):
            if name in data and data[name] in ("", None):
                data[name] = None
        return data

    def tag_names(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]


class CustomerCreateForm(CustomerForm):
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    contact_name = forms.CharField(label=_("Contact name"), max_length=100, required=False)
    contact_title = forms.CharField(label=_("Title"), max_length=100, required=False)
    contact_mobile = forms.CharField(label=_("Mobile"), max_length=40, required=False)
    contact_work_phone = forms.CharField(label=_("Work phone"), max_length=40, required=False)
    contact_mobile_reason = forms.CharField(
        label=_("Reason for the mobile"),
        max_length=300,
        required=False,
        help_text=_("Needed for a mobile beside a work phone, e.g. the company's own phone."),
    )
    contact_email = forms.CharField(label=_("Email"), max_length=254, required=False)
    contact_is_decision_maker = forms.BooleanField(label=_("Decision maker"), required=False)
    force = forms.BooleanField(
        label=_("Create anyway: this is a different customer"), required=False
    )

    def __init__(self, *args: Any, owners: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if owners is None:
            self.fields.pop("owner")
        else:
            self.fields["owner"].queryset = owners  # type: ignore[attr-defined]
        bootstrap(self)

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        owner = data.pop("owner", None)
        if owner is not None:
            data["owner"] = owner
        return data

    def contact_data(self) -> list[dict[str, Any]]:
        values = {
            name.removeprefix("contact_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("contact_")
        }
        if not any(v for k, v in values.items() if k != "is_decision_maker"):
            return []
        return [values]


class CustomerEditForm(CustomerForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason for the change"), max_length=100, required=False)
    force = forms.BooleanField(label=_("Save anyway: this is a different customer"), required=False)

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        data.pop("version", None)
        return data


class ContactForm(custom_fields.CustomFormMixin, forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "name",
            "gender",
            "title",
            "mobile",
            "work_phone",
            "mobile_reason",
            "email",
            "wechat",
            "is_decision_maker",
            "is_primary",
            "notes",
        ]
        widgets = {"email": forms.TextInput()}

    def __init__(
        self,
        *args: Any,
        hidden_fields: Iterable[str] = (),
        custom_specs: Sequence[custom_fields.FieldSpec] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"] = forms.CharField(label=_("Email"), max_length=254, required=False)
        for name in ("mobile", "work_phone"):
            self.fields[name].max_length = 40  # type: ignore[attr-defined]
            self.fields[name].validators = []
        for name in hidden_fields:
            self.fields.pop(name, None)
        custom_fields.add_form_fields(
            self, custom_specs, self.instance.custom if self.instance.pk else None
        )
        bootstrap(self)

    def service_data(self) -> dict[str, Any]:
        """The contact's values for the service, its custom ones as ``custom``."""
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("custom.")}
        custom = custom_fields.form_values(self)
        if custom is not None:
            data["custom"] = custom
        return data

    def problems(self) -> str:
        """The form's errors in one line, a custom field's named by its label."""
        return " ".join(
            f"{self.fields[name].label}: {problem}" if name.startswith("custom.") else str(problem)
            for name, problems in self.errors.items()
            for problem in problems
        )


class BootstrapForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bootstrap(self)
        for name, field in self.fields.items():
            if name in ("reason", "description", "merged_number"):
                field.widget.attrs.setdefault("placeholder", str(field.label))
            if isinstance(field.widget, forms.Select) or name in ("reason", "merged_number"):
                field.widget.attrs["class"] += (
                    " form-control-sm"
                    if not isinstance(field.widget, forms.Select)
                    else " form-select-sm"
                )


class StatusForm(BootstrapForm):
    status = forms.ChoiceField(label=_("Status"), choices=CustomerStatus.choices)
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class VerifyForm(BootstrapForm):
    via = forms.ChoiceField(label=_("Verified via"), choices=VerificationChannel.choices)


class ReassignForm(BootstrapForm):
    owner = forms.ModelChoiceField(label=_("New owner"), queryset=User.objects.none())
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args: Any, owners: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]


class ShareForm(BootstrapForm):
    user = forms.ModelChoiceField(label=_("Colleague"), queryset=User.objects.none())
    can_edit = forms.BooleanField(label=_("May edit"), required=False)

    def __init__(self, *args: Any, users: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = users  # type: ignore[attr-defined]


class GradeForm(BootstrapForm):
    grade = forms.ChoiceField(
        label=_("Manual grade"),
        choices=[("", _("Computed grade")), *Grade.choices],
        required=False,
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class MergeForm(BootstrapForm):
    merged_number = forms.CharField(
        label=_("Number of the customer to merge into this one"), max_length=40
    )
    reason = forms.CharField(label=_("Reason"), max_length=60, required=False)


class AttachmentForm(BootstrapForm):
    file = forms.FileField(label=_("File"))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)


class BulkForm(BootstrapForm):
    action = forms.ChoiceField(
        label=_("Action"), choices=[("tag", _("Add tags")), ("reassign", _("Reassign"))]
    )
    ids = forms.CharField(widget=forms.HiddenInput, required=False)
    tags = forms.CharField(label=_("Tags"), max_length=200, required=False)
    owner = forms.ModelChoiceField(
        label=_("New owner"), queryset=User.objects.none(), required=False
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)

    def __init__(self, *args: Any, owners: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]


class SavedFilterForm(BootstrapForm):
    name = forms.CharField(label=_("Name of the filter"), max_length=60)
    query = forms.CharField(widget=forms.HiddenInput, required=False, max_length=1000)
    # the page the form was on (a list or the deal board), to go back to it
    back = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)
