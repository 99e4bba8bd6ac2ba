"""UI forms; the services do the validation that matters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import Department, User
from kehu.core.numbers import IdsChoiceField
from kehu.pools.models import Pool
from kehu.pools.services import transfer_kinds


class PoolForm(forms.ModelForm):
    class Meta:
        model = Pool
        field_classes = {"departments": IdsChoiceField}
        fields = [
            "name",
            "description",
            "departments",
            "max_held_per_rep",
            "max_claims_per_day",
            "recycle_no_followup_days",
            "recycle_no_deal_days",
            "warn_days_before",
            "cooling_days",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        departments = self.fields["departments"]
        assert isinstance(departments, forms.ModelMultipleChoiceField)
        departments.queryset = Department.objects.order_by("path")
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "form-control")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        label = f"{obj} ({obj.username})"
        if obj.is_active:
            return label
        marker = _("deactivated")
        return f"{label} — {marker}"


class UsersChoiceField(IdsChoiceField):
    def label_from_instance(self, obj: User) -> str:
        label = f"{obj} ({obj.username})"
        if obj.is_active:
            return label
        marker = _("deactivated")
        return f"{label} — {marker}"


class OffboardingForm(forms.Form):
    """Who leaves, who takes over, how; the service refuses deactivated successors."""

    user = UserChoiceField(
        label=_("Leaving user"),
        queryset=User.objects.order_by("username"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    successors = UsersChoiceField(
        label=_("Successors"),
        queryset=User.objects.order_by("-is_active", "username"),
        required=False,
        widget=forms.SelectMultiple(attrs={"class": "form-select", "size": 6}),
        help_text=_(
            "Round robin deals the customers out in turn; their opportunities and tasks "
            "follow them."
        ),
    )
    mode = forms.ChoiceField(
        label=_("Distribution"),
        choices=[("round_robin", _("Round robin")), ("split", _("Explicit split by kind"))],
        initial="round_robin",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    pool = forms.ModelChoiceField(
        label=_("Return the customers to a pool instead"),
        queryset=Pool.objects.filter(is_active=True),
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = transfer_kinds()
        for kind in self.kinds:
            self.fields[f"split_{kind.key}"] = UserChoiceField(
                label=_("Successor for %(kind)s (explicit split)") % {"kind": kind.label},
                queryset=User.objects.order_by("-is_active", "username"),
                required=False,
                widget=forms.Select(attrs={"class": "form-select"}),
            )

    def service_args(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "user": data["user"],
            "successors": list(data.get("successors") or []),
            "mode": data["mode"],
            "split": {
                kind.key: data[f"split_{kind.key}"]
                for kind in self.kinds
                if data.get(f"split_{kind.key}") is not None
            },
            "pool": data.get("pool"),
        }


class ReleaseForm(forms.Form):
    """Give a customer back to a pool: which pool (the department's by default) and why."""

    pool = forms.ModelChoiceField(
        label=_("Pool"),
        queryset=Pool.objects.none(),
        required=False,
        empty_label=_("The pool of the customer's department"),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args: Any, pools: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pool_field = self.fields["pool"]
        assert isinstance(pool_field, forms.ModelChoiceField)
        pool_field.queryset = pools
