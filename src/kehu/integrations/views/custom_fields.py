"""Pages of custom fields (自定义字段): the administrators define them per kind of record.
Thin: every write is a ``kehu.integrations.services.custom_fields`` call."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import Role, User
from kehu.core import custom_fields as core_fields
from kehu.core.errors import KehuError
from kehu.core.http import error_message, form_errors
from kehu.core.numbers import posted_version
from kehu.integrations.models import CustomField, CustomFieldKind
from kehu.integrations.services import custom_fields as services


class CustomFieldForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Record kind"), choices=CustomFieldKind.choices)
    key = forms.CharField(
        label=gettext_lazy("Key"),
        max_length=40,
        help_text=gettext_lazy(
            "Used by the API, imports and exports: lower-case letters, digits and _, e.g. "
            "dealer_level. It cannot change once records hold values."
        ),
    )
    label_zh = forms.CharField(label=gettext_lazy("Label (Chinese)"), max_length=100)
    label_en = forms.CharField(
        label=gettext_lazy("Label (English)"), max_length=100, required=False
    )
    type = forms.ChoiceField(label=gettext_lazy("Type"), choices=core_fields.TYPES)
    choices = forms.CharField(
        label=gettext_lazy("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("For single and multiple choice: one choice per line."),
    )
    required = forms.BooleanField(label=gettext_lazy("Required"), required=False)
    help = forms.CharField(label=gettext_lazy("Help text"), max_length=300, required=False)
    order = forms.IntegerField(label=gettext_lazy("Order"), min_value=0, max_value=32767, initial=0)
    see_roles = forms.MultipleChoiceField(
        label=gettext_lazy("Roles that see it"),
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every role."),
    )
    edit_roles = forms.MultipleChoiceField(
        label=gettext_lazy("Roles that edit it"),
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every role that edits the record."),
    )
    sensitive = forms.BooleanField(
        label=gettext_lazy("Sensitive (masked like the budget)"), required=False
    )
    filterable = forms.BooleanField(
        label=gettext_lazy("Filter lists by it (indexed)"), required=False
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields.pop("kind")

    def data_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["choices"] = [line.strip() for line in data["choices"].splitlines() if line.strip()]
        return data


def _admin(request: AuthedRequest) -> User:
    if not services.custom_fields_may_manage(request.user):
        raise PermissionDenied
    return request.user


def _initial(field: CustomField) -> dict[str, Any]:
    return {
        "key": field.key,
        "label_zh": field.label_zh,
        "label_en": field.label_en,
        "type": field.type,
        "choices": "\n".join(field.choices),
        "required": field.required,
        "help": field.help,
        "order": field.order,
        "see_roles": field.see_roles,
        "edit_roles": field.edit_roles,
        "sensitive": field.sensitive,
        "filterable": field.filterable,
    }


@login_required
def custom_field_list(request: AuthedRequest) -> HttpResponse:
    user = _admin(request)
    kind = request.GET.get("kind", "")
    kind = kind if kind in CustomFieldKind.values else CustomFieldKind.CUSTOMER
    form = CustomFieldForm(
        request.POST if request.method == "POST" else None, initial={"kind": kind}
    )
    if request.method == "POST" and form.is_valid():
        try:
            field = services.custom_field_create(actor=user, data=form.data_for_service())
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Custom field added."))
            return redirect(f"{request.path}?kind={field.kind}")
    context = {
        "kind": kind,
        "kinds": CustomFieldKind.choices,
        "fields": CustomField.objects.filter(kind=kind, deleted_at__isnull=True).order_by(
            "order", "key"
        ),
        "deleted": services.deleted_fields(user=user, kind=kind),
        "restore_days": services.RESTORE_DAYS,
        "form": form,
    }
    return render(request, "integrations/custom_fields.html", context)


@login_required
def custom_field_detail(request: AuthedRequest, field_id: int) -> HttpResponse:
    user = _admin(request)
    field = services.custom_field_get(user=user, field_id=field_id)
    form = CustomFieldForm(initial=_initial(field), editing=True)
    back = f"{_list_url()}?kind={field.kind}"
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action in ("delete", "restore"):
            change = (
                services.custom_field_delete
                if action == "delete"
                else services.custom_field_restore
            )
            try:
                change(actor=user, field=field)
            except KehuError as error:
                messages.error(request, error_message(error))
            else:
                done = (
                    _("Custom field deleted.")
                    if action == "delete"
                    else _("Custom field restored.")
                )
                messages.success(request, done)
            return redirect(back)
        form = CustomFieldForm(request.POST, editing=True)
        if form.is_valid():
            try:
                services.custom_field_update(
                    actor=user,
                    field=field,
                    changes=form.data_for_service(),
                    version=posted_version(request),
                )
            except KehuError as error:
                form_errors(form, error)
            else:
                messages.success(request, _("Custom field saved."))
                return redirect(back)
    context = {"field": field, "form": form, "back": back, "restore_days": services.RESTORE_DAYS}
    return render(request, "integrations/custom_field.html", context)


def _list_url() -> str:
    return reverse("integrations:custom_fields")


urlpatterns: list[URLPattern] = [
    path("custom-fields/", custom_field_list, name="custom_fields"),
    path("custom-fields/<int:field_id>/", custom_field_detail, name="custom_field"),
]
