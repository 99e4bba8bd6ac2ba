"""One look for every form: the project's form renderer (``settings.FORM_RENDERER``).

- ``{{ form }}`` and ``{{ field.as_field_group }}`` render ``kehu/forms/form.html`` and
  ``kehu/forms/field.html``: the label above the input with a mark on required fields, the
  errors right under the input, then the help text (trusted HTML, as in Django's own template:
  the password validators' help is a list).
- every widget gets its Bootstrap class unless its form set one (``form-control``,
  ``form-select``, ``form-check-input``), and ``is-invalid`` when its field has errors, so
  forms need no per-field ``attrs`` to look finished;
- a select's empty choice reads 请选择 / "Select…" instead of Django's "---------", for
  ``ModelChoiceField.empty_label`` and the blank choice of model fields alike.

Done where widgets are rendered (``render``) rather than in a base form class, so that every
form, including the ones of Django's own views, follows without opting in.
"""

from __future__ import annotations

from typing import Any

from django.db.models.fields import BLANK_CHOICE_DASH
from django.forms.renderers import DjangoTemplates
from django.utils.translation import pgettext

DJANGO_BLANK_LABEL = BLANK_CHOICE_DASH[0][1]  # "---------"
# Widgets whose one input takes no Bootstrap class: their options are laid out by Django.
_UNSTYLED_TYPES = {"hidden", "radio"}
_SELECT_TEMPLATES = {"django/forms/widgets/select.html"}
_OPTION_LISTS = {
    "django/forms/widgets/radio.html",
    "django/forms/widgets/checkbox_select.html",
    "django/forms/widgets/multiple_hidden.html",
}


def select_placeholder() -> str:
    return pgettext("empty choice of a select", "Select…")


def widget_class(widget: dict[str, Any]) -> str:
    """The Bootstrap class a widget without one gets ('' for none)."""
    template = widget.get("template_name", "")
    if template in _SELECT_TEMPLATES:
        return "form-select"
    if template in _OPTION_LISTS or widget.get("type") in _UNSTYLED_TYPES:
        return ""
    if widget.get("type") == "checkbox":
        return "form-check-input"
    return "form-control"


def style_widget(widget: dict[str, Any]) -> None:
    """Give a widget's context its class and the select's empty choice its label (in place:
    the context is built afresh for each rendering)."""
    attrs = widget.setdefault("attrs", {})
    css = attrs.get("class") or widget_class(widget)
    if attrs.get("aria-invalid") == "true" and "is-invalid" not in css.split():
        css = f"{css} is-invalid".strip()
    if css:
        attrs["class"] = css
    for _group, options, _index in widget.get("optgroups", ()):
        for option in options:
            if option.get("value") in ("", None) and option.get("label") == DJANGO_BLANK_LABEL:
                option["label"] = select_placeholder()


class KehuFormRenderer(DjangoTemplates):
    form_template_name = "kehu/forms/form.html"
    field_template_name = "kehu/forms/field.html"

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        widget = context.get("widget")
        if isinstance(widget, dict):
            style_widget(widget)
        return super().render(template_name, context, request=request)
