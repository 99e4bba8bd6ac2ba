"""The editor of one setting: a form field per kind of value, rows for a list of dicts.

The form only turns what the page posts into a value of the setting's kind; whether the value
is valid (range, choices, shape) is decided once, by ``kehu.core.config.validate``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import config
from kehu.core.settings_area import MAX_REASON

MAX_ROWS = config.MAX_ITEMS


def _number_field(template: Any, spec: config.SettingSpec, **kwargs: Any) -> forms.Field:
    attrs: dict[str, Any] = {}
    if spec.minimum is not None:
        attrs["min"] = spec.minimum
    if spec.maximum is not None:
        attrs["max"] = spec.maximum
    if isinstance(template, int):
        return forms.IntegerField(widget=forms.NumberInput(attrs=attrs), **kwargs)
    attrs["step"] = "any"
    return forms.FloatField(widget=forms.NumberInput(attrs=attrs), **kwargs)


def _coerce(template: Any) -> Any:
    if isinstance(template, bool):
        return lambda text: text in {"1", "true", "True", "on"}
    if isinstance(template, int):
        return int
    if isinstance(template, float):
        return float
    return str


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for the change"),
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Kept in the history with your name."),
    )


class SettingForm(ReasonForm):
    """``value()`` is the posted value of the setting's kind, once ``is_valid()``."""

    field_order = ("value",)

    def __init__(self, spec: config.SettingSpec, current: Any, *args: Any, **kwargs: Any):
        self.spec = spec
        self.current = current
        super().__init__(*args, **kwargs)
        self.rows: list[dict[str, Any]] = []
        kind = spec.kind
        label = gettext_lazy("Value")
        if kind == "bool":
            self.fields["value"] = forms.BooleanField(label=label, required=False)
        elif kind in {"int", "float"}:
            self.fields["value"] = _number_field(spec.default, spec, label=label)
        elif kind == "str" and spec.choices:
            self.fields["value"] = forms.ChoiceField(label=label, choices=spec.choice_pairs)
        elif kind == "str":
            self.fields["value"] = forms.CharField(
                label=label, required=False, max_length=config.MAX_TEXT, strip=True
            )
        elif kind == "list" and spec.choices:
            item = spec.default[0] if spec.default else ""
            self.fields["value"] = forms.TypedMultipleChoiceField(
                label=label,
                required=False,
                choices=[(str(value), text) for value, text in spec.choice_pairs],
                coerce=_coerce(item),
                widget=forms.CheckboxSelectMultiple,
            )
        elif kind == "list":
            self.fields["value"] = forms.CharField(
                label=label,
                required=False,
                widget=forms.Textarea(attrs={"rows": 6}),
                help_text=gettext_lazy("One per line."),
            )
        elif kind == "dict":
            for name, item in spec.default.items():
                field_name = f"value__{name}"
                if isinstance(item, bool):
                    self.fields[field_name] = forms.BooleanField(label=name, required=False)
                elif isinstance(item, int | float):
                    self.fields[field_name] = _number_field(item, spec, label=name)
                else:
                    self.fields[field_name] = forms.CharField(label=name, required=False)
        elif kind == "json":
            self.fields["value"] = forms.CharField(
                label=label,
                widget=forms.Textarea(attrs={"rows": 8, "class": "font-monospace"}),
                help_text=gettext_lazy("JSON, in the shape of the default."),
            )
        if not self.is_bound:
            self._set_initial(current)

    # --- showing the current value ----------------------------------------------------------

    def _set_initial(self, value: Any) -> None:
        kind = self.spec.kind
        if kind == "list" and self.spec.choices:
            self.initial["value"] = [str(item) for item in value or ()]
        elif kind == "list":
            self.initial["value"] = "\n".join(str(item) for item in value or ())
        elif kind == "dict":
            for name in self.spec.default:
                self.initial[f"value__{name}"] = (value or {}).get(name)
        elif kind == "json":
            self.initial["value"] = json.dumps(value, ensure_ascii=False, indent=2)
        elif kind == "rows":
            pass
        else:
            self.initial["value"] = value
        if kind == "rows":
            self.rows = [
                {name: row.get(name) for name in self.columns} for row in value or () if row
            ]

    @property
    def columns(self) -> list[str]:
        template = self.spec.row_template
        return list(template) if template else []

    def row_table(self) -> list[list[tuple[str, Any]]]:
        """(column, value) per row, and one blank row to add."""
        table = [[(name, row.get(name)) for name in self.columns] for row in self.rows]
        table.append([(name, None) for name in self.columns])
        return table

    # --- reading what was posted ------------------------------------------------------------

    def _posted_rows(self, data: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        template = self.spec.row_template or {}
        indices = sorted(
            {
                int(name.split("-")[1])
                for name in data
                if name.startswith("row-") and name.split("-")[1].isdigit() and len(name) < 40
            }
        )[:MAX_ROWS]
        rows: list[dict[str, Any]] = []
        problems: list[str] = []
        for number, index in enumerate(indices, start=1):
            if data.get(f"row-{index}-DELETE"):
                continue
            raw = {name: (data.get(f"row-{index}-{name}") or "").strip() for name in template}
            if not any(raw.values()):
                continue  # a blank row
            row: dict[str, Any] = {}
            for name, item in template.items():
                text = raw[name]
                if text == "" and (name in self.spec.optional or not isinstance(item, int | float)):
                    if name not in self.spec.optional:
                        row[name] = ""
                    continue
                try:
                    row[name] = _coerce(item)(text)
                except ValueError:
                    problems.append(
                        _("row %(number)d, %(name)s: Enter a number.")
                        % {"number": number, "name": name}
                    )
            rows.append(row)
        self.rows = rows
        if problems:
            for problem in problems:
                self.add_error(None, problem)
            return None
        return rows

    def value(self) -> Any:
        kind = self.spec.kind
        data = self.cleaned_data
        if kind == "rows":
            return self._posted_rows(self.data)
        if kind == "dict":
            return {name: data.get(f"value__{name}") for name in self.spec.default}
        if kind == "list" and not self.spec.choices:
            item = self.spec.default[0] if self.spec.default else ""
            lines = [line.strip() for line in str(data.get("value") or "").splitlines()]
            try:
                return [_coerce(item)(line) for line in lines if line]
            except ValueError:
                self.add_error("value", _("Enter one number per line."))
                return None
        if kind == "json":
            try:
                return json.loads(data["value"])
            except ValueError:
                self.add_error("value", _("Enter valid JSON."))
                return None
        return data.get("value")

    def show_errors(self, messages: list[str]) -> None:
        """The setting's errors from ``config.validate``, on its value."""
        target = "value" if "value" in self.fields else None
        for message in messages:
            self.add_error(target, message)
