"""Forms of the import / export pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.customers.models import CustomerStatus, Source
from kehu.transfer.models import ExportKind, ImportKind, ImportMapping, OnDuplicate
from kehu.transfer.specs import fields_for

ENCODING_CHOICES = [
    ("", _("Detect automatically")),
    ("utf-8", "UTF-8"),
    ("utf-8-sig", _("UTF-8 with BOM")),
    ("gb18030", "GBK / GB18030"),
]


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File (XLSX or CSV)"))
    kind = forms.ChoiceField(label=_("What to import"), choices=ImportKind.choices)
    encoding = forms.ChoiceField(
        label=_("Encoding (CSV)"), choices=ENCODING_CHOICES, required=False
    )
    on_duplicate = forms.ChoiceField(
        label=_("Duplicates"), choices=OnDuplicate.choices, initial=OnDuplicate.SKIP
    )
    saved_mapping = forms.ModelChoiceField(
        label=_("Saved column mapping"),
        queryset=ImportMapping.objects.all(),
        required=False,
        empty_label=_("Automatic"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            css = "form-control" if name == "file" else "form-select"
            field.widget.attrs.setdefault("class", css)
        self.fields["file"].widget.attrs["accept"] = ".xlsx,.csv,.txt"


def decision_choices(kind: str) -> list[tuple[str, Any]]:
    """Follow-ups are never edited once logged: their duplicates are skipped or created."""
    choices = list(OnDuplicate.choices)
    if kind == ImportKind.FOLLOWUPS:
        choices = [c for c in choices if c[0] != OnDuplicate.UPDATE]
    return choices


class OptionsForm(forms.Form):
    """Mapping (one select per file column), encoding and the global duplicate decision."""

    encoding = forms.ChoiceField(
        label=_("Encoding (CSV)"), choices=ENCODING_CHOICES, required=False
    )
    on_duplicate = forms.ChoiceField(label=_("Duplicates"), choices=OnDuplicate.choices)
    save_as = forms.CharField(label=_("Save this mapping as"), max_length=100, required=False)

    def __init__(self, *args: Any, kind: str, headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers = headers
        on_duplicate = self.fields["on_duplicate"]
        assert isinstance(on_duplicate, forms.ChoiceField)
        on_duplicate.choices = decision_choices(kind)
        choices = [("", _("(ignore this column)"))] + [
            (spec.key, f"{spec.zh} / {spec.en}") for spec in fields_for(kind)
        ]
        for index, header in enumerate(headers):
            if not header:
                continue
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header, choices=choices, required=False
            )
        for name, field in self.fields.items():
            css = "form-control" if name == "save_as" else "form-select form-select-sm"
            field.widget.attrs.setdefault("class", css)

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data.get(f"col_{index}") or ""
            for index, header in enumerate(self.headers)
            if header
        }

    def column_fields(self) -> list[Any]:
        return [self[name] for name in self.fields if name.startswith("col_")]


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What to export"), choices=ExportKind.choices)
    format = forms.ChoiceField(
        label=_("Format"), choices=[("xlsx", "Excel (XLSX)"), ("csv", "CSV (UTF-8)")]
    )
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    source = forms.ChoiceField(label=_("Source"), required=False)
    created_from = forms.DateField(
        label=_("Created from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        label=_("Created to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        status_field = self.fields["status"]
        source_field = self.fields["source"]
        assert isinstance(status_field, forms.ChoiceField)
        assert isinstance(source_field, forms.ChoiceField)
        status_field.choices = everything + list(CustomerStatus.choices)
        source_field.choices = everything + list(Source.choices)
        for field in self.fields.values():
            select = isinstance(field, forms.ChoiceField)
            field.widget.attrs.setdefault("class", "form-select" if select else "form-control")

    def filter_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("kind", "format") and v}
        # custom-field filters of the customer list (``cf=<key>:<value>``), checked by the filters
        custom = self.data.getlist("cf") if hasattr(self.data, "getlist") else []
        if custom:
            data["cf"] = [str(value)[:200] for value in custom[:20]]
        return data
