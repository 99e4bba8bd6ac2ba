"""Custom fields (自定义字段): the reader interface the record apps call.

An administrator defines extra fields per kind of record (``KINDS``); the definitions live in
``kehu.integrations`` (a higher layer), which installs the reader with ``set_provider`` from its
``AppConfig.ready()``. The record apps (customers, leads, opportunities, service) store the
values in their ``custom`` JSON column, keyed by the field's ``key``, and call this module for
everything they do with them: which fields a user sees or edits (``fields_for``), validating
input (``clean``), the values a user is shown (``shown_values``), a value as text
(``display``) and a list filter (``filter_q``).

Stored values are JSON: text, long text, URL, single choice and date (``YYYY-MM-DD``) are
strings, number and money numbers, yes/no a boolean, user a user's id, multiple choice a
list of strings. Without a provider (integrations not installed) no kind has custom fields.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, models
from django.db.models import F, Func, Q, TextField
from django.db.models.lookups import Contains, Exact, IContains, IsNull
from django.utils.translation import get_language, gettext_lazy, pgettext, pgettext_lazy
from django.utils.translation import gettext as _

from kehu.core.access import is_admin, policy_of
from kehu.core.errors import InvalidInput
from kehu.core.masking import MASK

KINDS: tuple[str, ...] = ("customer", "contact", "lead", "opportunity", "ticket")

TEXT = "text"
LONG_TEXT = "long_text"
NUMBER = "number"
MONEY = "money"
DATE = "date"
CHOICE = "choice"
MULTI_CHOICE = "multi_choice"
YES_NO = "yes_no"
USER = "user"
URL = "url"

TYPES: tuple[tuple[str, Any], ...] = (
    (TEXT, pgettext_lazy("custom field type", "Text")),
    (LONG_TEXT, pgettext_lazy("custom field type", "Long text")),
    (NUMBER, pgettext_lazy("custom field type", "Number")),
    (MONEY, pgettext_lazy("custom field type", "Money")),
    (DATE, pgettext_lazy("custom field type", "Date")),
    (CHOICE, pgettext_lazy("custom field type", "Single choice")),
    (MULTI_CHOICE, pgettext_lazy("custom field type", "Multiple choice")),
    (YES_NO, pgettext_lazy("custom field type", "Yes/no")),
    (USER, pgettext_lazy("custom field type", "User")),
    (URL, pgettext_lazy("custom field type", "URL")),
)
TYPE_NAMES = frozenset(name for name, _label in TYPES)
# Types whose text is searched by the list's search box.
TEXT_TYPES = frozenset({TEXT, LONG_TEXT, URL, CHOICE})
MAX_TEXT = 200
MAX_LONG_TEXT = 5000
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Query parameter of list filters: ``?cf=<key>:<value>`` (repeatable).
FILTER_PARAM = "cf"


@dataclass(frozen=True)
class FieldSpec:
    """One active custom field as the record apps see it."""

    kind: str
    key: str
    label_zh: str
    label_en: str
    type: str
    required: bool = False
    help: str = ""
    order: int = 0
    choices: tuple[str, ...] = ()
    see_roles: frozenset[str] = frozenset()  # empty: every role
    edit_roles: frozenset[str] = frozenset()  # empty: every role that may edit the record
    sensitive: bool = False
    filterable: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The label in the active language (the other one when this one is empty)."""
        zh = (get_language() or "").lower().startswith("zh")
        first, second = (self.label_zh, self.label_en) if zh else (self.label_en, self.label_zh)
        return first or second or self.key

    @property
    def name(self) -> str:
        """The field's name in forms, error bodies and export columns: ``custom.<key>``."""
        return f"custom.{self.key}"

    def visible_to(self, user: Any) -> bool:
        return not self.see_roles or is_admin(user) or getattr(user, "role", "") in self.see_roles

    def editable_by(self, user: Any) -> bool:
        if not self.visible_to(user):
            return False
        return not self.edit_roles or is_admin(user) or getattr(user, "role", "") in self.edit_roles


Provider = Callable[[], Sequence[FieldSpec]]
_provider: Provider | None = None
# The definitions of every kind, held per process and read again when the shared generation
# moves (``changed``: a definition was written) or after ``LOCAL_SECONDS`` (processes that
# share no cache, e.g. several workers without Redis, see a change that late).
GENERATION_KEY = "kehu:custom-fields:generation"
LOCAL_SECONDS = 5.0
_held: dict[str, Any] = {}


def set_provider(provider: Provider | None) -> None:
    """Install the reader of every active definition (``kehu.integrations`` in ready())."""
    global _provider
    _provider = provider
    _held.clear()


def changed() -> None:
    """Tell every process the definitions changed (call after a write and on its commit)."""
    cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
    _held.clear()


def forget() -> None:
    """Drop the definitions this process holds, so the next read asks the provider: for a
    job that acts on a change committed a moment ago (without a shared cache, the other
    processes hold theirs for up to ``LOCAL_SECONDS``)."""
    _held.clear()


def _generation() -> str:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, uuid.uuid4().hex, None)
        generation = cache.get(GENERATION_KEY) or ""
    return str(generation)


_pinned: ContextVar[list[FieldSpec] | None] = ContextVar("kehu_custom_fields_pinned", default=None)


@contextmanager
def pinned() -> Iterator[None]:
    """The definitions read once for a batch (the API's bulk upsert): inside, every call sees
    them as they were when the batch began, without asking the shared cache whether they
    changed (that read, once per record, cost more than the record's own checks)."""
    token = _pinned.set(_all())
    try:
        yield
    finally:
        _pinned.reset(token)


def _all() -> list[FieldSpec]:
    held = _pinned.get()
    if held is not None:
        return held
    if _provider is None:
        return []
    generation, now = _generation(), time.monotonic()
    if _held.get("generation") != generation or now - _held.get("at", 0.0) > LOCAL_SECONDS:
        specs = sorted(_provider(), key=lambda spec: (spec.kind, spec.order, spec.key))
        _held.update(generation=generation, at=now, specs=specs)
    specs_held: list[FieldSpec] = _held["specs"]
    return specs_held


def definitions(kind: str) -> list[FieldSpec]:
    """The active fields of ``kind`` in their order (one query for every kind, then held
    until a definition changes)."""
    return [spec for spec in _all() if spec.kind == kind]


def fields_for(kind: str, user: Any = None, *, editable: bool = False) -> list[FieldSpec]:
    """The fields of ``kind`` that ``user`` sees (or edits); every field without a user."""
    specs = definitions(kind)
    if user is None:
        return specs
    if editable:
        return [spec for spec in specs if spec.editable_by(user)]
    return [spec for spec in specs if spec.visible_to(user)]


def editable_fields(kind: str, user: Any, *, masked: bool = False) -> list[FieldSpec]:
    """The fields ``user`` edits on a record (a form): not the sensitive ones when the
    record's sensitive fields are masked for them."""
    return [s for s in fields_for(kind, user, editable=True) if not (masked and s.sensitive)]


def field_of(kind: str, key: str, user: Any = None) -> FieldSpec | None:
    return next((spec for spec in fields_for(kind, user) if spec.key == key), None)


# --- Validation --------------------------------------------------------------------------------


class _Invalid(Exception):
    pass


def _clean_one(spec: FieldSpec, raw: Any) -> Any:
    """The stored form of ``raw`` for ``spec``, None for "empty"; ``_Invalid`` with the message."""
    if raw is None or raw == "" or raw == []:
        return None
    kind = spec.type
    if kind in (TEXT, LONG_TEXT, URL):
        if not isinstance(raw, str):
            raise _Invalid(_("Enter text."))
        value = raw.strip() if kind != LONG_TEXT else raw.strip("\n\r ")
        limit = MAX_LONG_TEXT if kind == LONG_TEXT else MAX_TEXT
        if len(value) > limit:
            raise _Invalid(_("Enter at most %(limit)d characters.") % {"limit": limit})
        if "\x00" in value:
            raise _Invalid(_("Enter text."))
        if kind == URL and value:
            try:
                URLValidator(schemes=["http", "https"])(value)
            except ValidationError as error:
                raise _Invalid(_("Enter an http(s) address.")) from error
        return value or None
    if kind in (NUMBER, MONEY):
        if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
            raise _Invalid(_("Enter a number."))
        try:
            number = Decimal(str(raw).strip().replace(",", ""))
        except InvalidOperation as error:
            raise _Invalid(_("Enter a number.")) from error
        if not number.is_finite() or abs(number) >= Decimal("1e15"):
            raise _Invalid(_("Enter a number."))
        if kind == MONEY:
            number = number.quantize(Decimal("0.01"))
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == DATE:
        if isinstance(raw, date):
            return raw.isoformat()
        if not isinstance(raw, str):
            raise _Invalid(_("Enter a date as YYYY-MM-DD."))
        try:
            return date.fromisoformat(raw.strip()[:10]).isoformat()
        except ValueError as error:
            raise _Invalid(_("Enter a date as YYYY-MM-DD.")) from error
    if kind == CHOICE:
        if not isinstance(raw, str) or raw.strip() not in spec.choices:
            raise _Invalid(_("Choose one of: %(choices)s.") % {"choices": "、".join(spec.choices)})
        return raw.strip()
    if kind == MULTI_CHOICE:
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise _Invalid(_("Choose from: %(choices)s.") % {"choices": "、".join(spec.choices)})
        chosen = [item.strip() for item in items if item.strip()]
        bad = [item for item in chosen if item not in spec.choices]
        if bad:
            raise _Invalid(
                _("Not a choice: %(bad)s. Choose from: %(choices)s.")
                % {"bad": "、".join(bad), "choices": "、".join(spec.choices)}
            )
        ordered = [choice for choice in spec.choices if choice in chosen]
        return ordered or None
    if kind == YES_NO:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "y", "on", "是"}:
            return True
        if text in {"0", "false", "no", "n", "off", "否"}:
            return False
        raise _Invalid(_("Enter yes or no."))
    if kind == USER:
        if isinstance(raw, bool):
            raise _Invalid(_("Choose an active user."))
        try:
            user_id = int(str(raw).strip())
        except ValueError as error:
            raise _Invalid(_("Choose an active user.")) from error
        if not 0 < user_id < 2**31 or not (
            get_user_model().objects.filter(pk=user_id, is_active=True).exists()
        ):
            raise _Invalid(_("Choose an active user."))
        return user_id
    raise _Invalid(_("This field cannot be set here."))


_SEPARATORS = re.compile(r"[、,，;；\n]+")


def clean_value(spec: FieldSpec, raw: Any) -> Any:
    """One value of ``spec`` from a file's cell (the import): its stored form, None when
    empty; ``ValueError`` with the message. A multiple choice is split at 、 , ; and lines."""
    if spec.type == MULTI_CHOICE and isinstance(raw, str):
        raw = [part for part in _SEPARATORS.split(raw) if part.strip()]
    try:
        return _clean_one(spec, raw)
    except _Invalid as error:
        raise ValueError(str(error)) from error


def clean(
    kind: str,
    values: Mapping[str, Any] | None,
    *,
    user: Any,
    current: Mapping[str, Any] | None = None,
    creating: bool = False,
    masked: bool = False,
) -> dict[str, Any]:
    """The record's new ``custom`` value: ``current`` with ``values`` validated and applied.

    Every key must be a field of ``kind`` that ``user`` may edit; a required field that
    ``user`` may fill must have a value once the record is created, or when an edit carries
    custom values at all (a record made before the field became required stays valid until it
    is edited). Values of fields no longer defined (a soft-deleted field) are kept, so
    restoring the field restores them.
    ``masked``: the user sees the record's sensitive fields masked, so may not change the
    sensitive custom ones. Raises ``InvalidInput`` whose errors name ``custom.<key>``.
    """
    if values is not None and not isinstance(values, Mapping):
        raise InvalidInput(errors={"custom": [_("Send an object of field keys and values.")]})
    result: dict[str, Any] = dict(current or {})
    specs = {spec.key: spec for spec in fields_for(kind)}
    errors: dict[str, list[str]] = {}
    for key, raw in (values or {}).items():
        spec = specs.get(str(key))
        if spec is None or not spec.visible_to(user):
            errors.setdefault(f"custom.{key}", []).append(_("There is no such field."))
            continue
        if not spec.editable_by(user) or (masked and spec.sensitive):
            if raw != result.get(spec.key) and raw is not None:
                errors.setdefault(spec.name, []).append(_("You may not change this field."))
            continue
        try:
            value = _clean_one(spec, raw)
        except _Invalid as error:
            errors.setdefault(spec.name, []).append(str(error))
            continue
        if value is None:
            result.pop(spec.key, None)
        else:
            result[spec.key] = value
    if creating or values is not None:
        for spec in specs.values():
            # A role that may not fill a field is not held to it (else it could create none).
            fillable = spec.editable_by(user) and not (masked and spec.sensitive)
            if spec.required and fillable and result.get(spec.key) in (None, "", []):
                errors.setdefault(spec.name, []).append(_("This field is required."))
    if errors:
        raise InvalidInput(errors=errors)
    return result


def take(
    kind: str,
    data: dict[str, Any],
    *,
    user: Any,
    current: Mapping[str, Any] | None = None,
    creating: bool = False,
    masked: bool = False,
) -> dict[str, Any] | None:
    """Pop ``custom`` from a service's input and return the record's new ``custom`` (``clean``),
    or None when an edit sends none. Required fields are enforced on the channels that carry
    custom values (the input has the key, even null: the API); a channel without any (a
    public form, a system job, a page without the fields) creates the record without them."""
    present = "custom" in data
    values = data.pop("custom", None)
    if user is None or not present:
        return dict(current or {}) if creating else None
    if values is None and not creating:
        return None
    return clean(kind, values, user=user, current=current, creating=creating, masked=masked)


API_OUT = (
    "Custom fields (自定义字段) the caller may see, by key: text, long text, URL, single "
    "choice and date (YYYY-MM-DD) as strings, number and money as numbers, yes/no as a "
    "boolean, user as a user id, multiple choice as a list of strings; null when empty or "
    "masked (a sensitive field outside full access). GET /api/v1/custom-fields lists them."
)
API_IN = (
    'Custom field values by key (the types of the output); null or "" empties a field. '
    "Only the keys sent change. A wrong value answers 422 naming custom.<key>."
)


# --- Reading ----------------------------------------------------------------------------------


def masked_for(user: Any, row: Any) -> bool:
    """Whether ``user`` sees the sensitive custom fields of ``row`` masked: like the built-in
    sensitive fields, unless they have full access (owner, their manager, admin)."""
    return not policy_of(type(row)).has_full_access(user, row)


def shown_values(
    kind: str, user: Any, custom: Mapping[str, Any] | None, *, masked: bool
) -> dict[str, Any]:
    """The custom values ``user`` sees, every visible field present (None when empty);
    sensitive ones None when ``masked`` (the record's sensitive fields are masked for them)."""
    custom = custom or {}
    return {
        spec.key: None if (masked and spec.sensitive) else custom.get(spec.key)
        for spec in fields_for(kind, user)
    }


def display(
    spec: FieldSpec, value: Any, *, masked: bool = False, users: Mapping[int, str] = {}
) -> str:
    """A stored value as text for pages and exports ("" when empty)."""
    if value is None or value == "" or value == []:
        return ""
    if masked and spec.sensitive:
        return MASK
    if spec.type == MULTI_CHOICE and isinstance(value, list):
        return "、".join(str(item) for item in value)
    if spec.type == YES_NO:
        return str(pgettext("custom field", "Yes") if value else pgettext("custom field", "No"))
    if spec.type == USER:
        return users.get(value, str(value)) if isinstance(value, int) else str(value)
    if spec.type == MONEY and isinstance(value, int | float):
        return f"¥{value:,.2f}"
    return str(value)


@dataclass(frozen=True)
class ShownValue:
    key: str
    label: str
    text: str
    is_url: bool = False


def shown_rows(
    kind: str, user: Any, custom: Mapping[str, Any] | None, *, masked: bool
) -> list[ShownValue]:
    """The custom fields ``user`` sees on a record's page, as text ("" when empty)."""
    specs = fields_for(kind, user)
    custom = custom or {}
    users = user_names(specs, [custom])
    return [
        ShownValue(
            key=spec.key,
            label=spec.label,
            text=display(spec, custom.get(spec.key), masked=masked, users=users),
            is_url=spec.type == URL and not (masked and spec.sensitive),
        )
        for spec in specs
    ]


# --- Lists ------------------------------------------------------------------------------------


@dataclass
class ListColumns:
    """The custom fields of a list page for ``user``: every visible one (the column choices),
    the chosen ones (``columns``), and the filterable ones as filter inputs."""

    visible: list[FieldSpec]
    columns: list[FieldSpec]
    filters: list[dict[str, Any]]

    def context(self) -> dict[str, Any]:
        """The template names the shared partials read (``core/custom_fields/*.html``)."""
        return {
            "custom_visible": self.visible,
            "custom_columns": self.columns,
            "custom_filters": self.filters,
        }

    def cells(
        self,
        records: Iterable[Any],
        masked: Callable[[Any], bool],
        custom: Callable[[Any], Mapping[str, Any] | None] = lambda r: r.custom,
    ) -> list[list[str]]:
        """Per record, the text of its chosen columns (sensitive ones masked where
        ``masked(record)``); one query for the names of user-type values."""
        rows = list(records)
        if not self.columns:
            return [[] for _row in rows]
        values = [custom(row) or {} for row in rows]
        users = user_names(self.columns, values)
        return [
            [
                display(spec, value.get(spec.key), masked=masked(row), users=users)
                for spec in self.columns
            ]
            for row, value in zip(rows, values, strict=True)
        ]

    def labelled(
        self, records: Iterable[Any], masked: Callable[[Any], bool]
    ) -> list[list[tuple[str, str]]]:
        """``cells`` as (label, text) pairs, for tables that label their cells on phones."""
        labels = [str(spec.label) for spec in self.columns]
        return [list(zip(labels, row, strict=True)) for row in self.cells(records, masked)]


def list_columns(kind: str, user: Any, chosen: Iterable[str], cf: Iterable[str]) -> ListColumns:
    """The custom columns and filter inputs of a ``kind`` list for ``user``: ``chosen`` are
    the ``columns`` keys, ``cf`` the current ``<key>:<value>`` filters."""
    visible = fields_for(kind, user)
    wanted = set(chosen)
    return ListColumns(
        visible=visible,
        columns=[spec for spec in visible if spec.key in wanted],
        filters=filter_inputs(user, visible, cf),
    )


def filter_inputs(
    user: Any, visible: Iterable[FieldSpec], cf: Iterable[str]
) -> list[dict[str, Any]]:
    """The filterable custom fields of a list's filter form: a select of their choices
    (value ``<key>:<choice>``, the ``cf`` parameter) or a text input ``cf_<key>``."""
    chosen = {raw.partition(":")[0]: raw.partition(":")[2] for raw in cf}
    shown: list[dict[str, Any]] = []
    for spec in visible:
        if not spec.filterable or (spec.sensitive and not is_admin(user)):
            continue
        options: list[tuple[str, str]] = []
        if spec.type in (CHOICE, MULTI_CHOICE):
            options = [(choice, choice) for choice in spec.choices]
        elif spec.type == YES_NO:
            options = [
                ("1", pgettext("custom field", "Yes")),
                ("0", pgettext("custom field", "No")),
            ]
        shown.append(
            {
                "spec": spec,
                "options": [(f"{spec.key}:{v}", label) for v, label in options],
                "current": chosen.get(spec.key, ""),
                "input_type": "date" if spec.type == DATE else "text",
            }
        )
    return shown


def export_value(spec: FieldSpec, value: Any) -> Any:
    """A stored value in an export cell: numbers stay numbers, yes/no reads 是/否, multiple
    choices are joined with 、 (what the import reads back)."""
    if value is None or value == "" or value == []:
        return ""
    if spec.type in (NUMBER, MONEY):
        return value
    if spec.type == YES_NO:
        return "是" if value else "否"
    if spec.type == MULTI_CHOICE and isinstance(value, list):
        return "、".join(str(item) for item in value)
    return str(value)


def user_names(
    specs: Iterable[FieldSpec], customs: Iterable[Mapping[str, Any] | None]
) -> dict[int, str]:
    """The names of the users that user-type fields of these records name (one query)."""
    keys = [spec.key for spec in specs if spec.type == USER]
    if not keys:
        return {}
    ids: set[int] = {c[k] for c in customs if c for k in keys if isinstance(c.get(k), int)}
    if not ids:
        return {}
    return {user.pk: str(user) for user in get_user_model().objects.filter(pk__in=ids)}


def searchable(spec: FieldSpec) -> bool:
    """Whether the search box reads the field's values: text-like and not sensitive (masked
    values are not found by searching)."""
    return spec.type in TEXT_TYPES | {MULTI_CHOICE} and not spec.sensitive


def stored_searchable(spec: FieldSpec) -> bool:
    """Whether a record's stored search text (customers' ``search_text``, contacts'
    ``custom_text``) holds the field's values: searchable and seen by every role, since one
    stored text serves every user and must not find a record by a value the user may not
    see. A field only some roles see stays out of the search box there (the lists that search
    custom values live, ``search_q``, read it for the users who see it)."""
    return searchable(spec) and not spec.see_roles


def search_text(kind: str, custom: Mapping[str, Any] | None) -> str:
    """The text of the record's stored-searchable custom values (``stored_searchable``), for
    its search keys; a multiple choice gives each of its items."""
    custom = custom or {}
    parts: list[str] = []
    for spec in definitions(kind):
        value = custom.get(spec.key)
        if value in (None, "", []) or not stored_searchable(spec):
            continue
        parts.extend(map(str, value) if isinstance(value, list) else [str(value)])
    return " ".join(parts)


MODEL_KINDS = {
    "customers.customer": "customer",
    "customers.contact": "contact",
    "leads.lead": "lead",
    "opportunities.opportunity": "opportunity",
    "service.ticket": "ticket",
}


def history_changes(
    model: Any, old: Any, new: Any, *, user: Any = None, masked: bool = False
) -> list[tuple[str, str, Any, Any]]:
    """A change of a record's ``custom`` column as (``custom.<key>``, label, old, new) per
    field that changed and ``user`` sees (every defined field without a user); sensitive
    ones are left out when ``masked``. Values of deleted fields are not shown."""
    kind = MODEL_KINDS.get(model._meta.label_lower)
    if kind is None:
        return []
    old, new = old or {}, new or {}
    users = user_names(fields_for(kind), [old, new])
    return [
        (
            spec.name,
            spec.label,
            display(spec, old.get(spec.key), users=users) or None,
            display(spec, new.get(spec.key), users=users) or None,
        )
        for spec in fields_for(kind, user)
        if old.get(spec.key) != new.get(spec.key) and not (masked and spec.sensitive)
    ]


# --- Forms ------------------------------------------------------------------------------------


def form_field(spec: FieldSpec) -> Any:
    """The form field of ``spec`` (named ``spec.name`` in a form). Never ``required``: the
    service enforces that, so a record made before the field became required is judged by
    the same rule in the form as in the API."""
    from django import forms

    common: dict[str, Any] = {"label": spec.label, "required": False, "help_text": spec.help}
    blank = [("", "")]
    if spec.type == LONG_TEXT:
        return forms.CharField(
            max_length=MAX_LONG_TEXT, widget=forms.Textarea(attrs={"rows": 3}), **common
        )
    if spec.type in (NUMBER, MONEY):
        return forms.DecimalField(
            max_digits=17, decimal_places=2 if spec.type == MONEY else 6, **common
        )
    if spec.type == DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if spec.type == CHOICE:
        return forms.ChoiceField(choices=blank + [(c, c) for c in spec.choices], **common)
    if spec.type == MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in spec.choices], widget=forms.CheckboxSelectMultiple, **common
        )
    if spec.type == YES_NO:
        return forms.ChoiceField(
            choices=[
                *blank,
                ("1", pgettext("custom field", "Yes")),
                ("0", pgettext("custom field", "No")),
            ],
            **common,
        )
    if spec.type == USER:
        users = get_user_model().objects.filter(is_active=True).order_by("username")
        return forms.ChoiceField(choices=blank + [(str(u.pk), str(u)) for u in users], **common)
    if spec.type == URL:
        return forms.CharField(max_length=MAX_TEXT, widget=forms.URLInput(), **common)
    return forms.CharField(max_length=MAX_TEXT, **common)


def add_form_fields(
    form: Any, specs: Iterable[FieldSpec], current: Mapping[str, Any] | None
) -> None:
    """Add the fields of ``specs`` to ``form`` with the record's ``current`` values as
    initial values (``form.custom_specs`` keeps them for ``form_values``)."""
    current = current or {}
    form.custom_specs = list(specs)
    for spec in form.custom_specs:
        field = form_field(spec)
        value = current.get(spec.key)
        if spec.type == YES_NO and value is not None:
            value = "1" if value else "0"
        elif spec.type == USER and value is not None:
            value = str(value)
        field.initial = value
        form.fields[spec.name] = field


def form_values(form: Any) -> dict[str, Any] | None:
    """The custom values a valid form posted (for the service's ``custom``), or None when
    the form has no custom fields."""
    specs = getattr(form, "custom_specs", [])
    if not specs:
        return None
    return {spec.key: form.cleaned_data.get(spec.name) for spec in specs}


class CustomFormMixin:
    """For a form with custom fields (``add_form_fields``): its bound fields split for the
    templates, the record's own ones and the "More fields" card's
    (``core/custom_fields/form_card.html``)."""

    custom_specs: list[FieldSpec]

    def custom_bound(self) -> list[Any]:
        """The custom fields' bound fields, for the form's "More fields" card."""
        return [self[spec.name] for spec in getattr(self, "custom_specs", [])]  # type: ignore[index]

    def own_bound(self) -> list[Any]:
        """The form's other bound fields, in their order."""
        custom = {spec.name for spec in getattr(self, "custom_specs", [])}
        return [field for field in self if field.name not in custom]  # type: ignore[attr-defined]


# --- Filters ----------------------------------------------------------------------------------


def parse_filter(kind: str, raw: str, user: Any = None) -> tuple[FieldSpec, Any]:
    """One ``<key>:<value>`` filter of a list: the field (filterable, visible to ``user``)
    and the value in its stored form. Raises ``ValueError`` with the message."""
    key, sep, text = str(raw).partition(":")
    spec = field_of(kind, key.strip(), user)
    if not sep or spec is None or not spec.filterable:
        raise ValueError(_("Not a filterable field: %(key)s.") % {"key": key.strip()[:40]})
    if spec.sensitive and user is not None and not is_admin(user):
        raise ValueError(_("Not a filterable field: %(key)s.") % {"key": key.strip()[:40]})
    probe = FieldSpec(**{**spec.__dict__, "type": CHOICE}) if spec.type == MULTI_CHOICE else spec
    try:
        value = _clean_one(probe, text)
    except _Invalid as error:
        raise ValueError(f"{spec.label}: {error}") from error
    return spec, value


def filter_q(spec: FieldSpec, value: Any, column: str = "custom") -> Any:
    """The condition "this field has this value" (an expression for ``filter()``), on the
    same expression as the field's index (``index_expression``) so the database looks it up
    there. A multiple choice matches a member of the stored list (not indexed)."""
    expression = index_expression(spec.key, column)
    if value is None:
        return Q(IsNull(expression, True))
    if spec.type == MULTI_CHOICE:
        # SQLite keeps the stored text (Django writes \\u escapes), PostgreSQL its own
        return Q(Contains(expression, json.dumps(value, ensure_ascii=False))) | Q(
            Contains(expression, json.dumps(value))
        )
    return Exact(expression, _as_text(value))


def search_q(kind: str, user: Any, text: str, column: str = "custom") -> Q | None:
    """The list search box's condition on custom values: ``text`` within a text, long text,
    URL, single or multiple choice value (the types of ``search_text``) of a field of
    ``kind`` that ``user`` sees and that is not sensitive (a masked value is not found by
    searching). ``None`` when no such field exists or ``text`` is empty.

    Each field reads its value as text (``CustomValue``); a multiple choice reads as its JSON
    list, so an item is found inside it. SQLite keeps the list as Django wrote it, with
    ``\\u`` escapes for non-ASCII letters, so the escaped form of ``text`` is looked for too."""
    text = text.strip()
    if not text:
        return None
    escaped = json.dumps(text)[1:-1]
    query: Q | None = None
    for spec in fields_for(kind, user):
        if not searchable(spec):
            continue
        expression = CustomValue(spec.key, column)
        condition = Q(IContains(expression, text))
        if spec.type == MULTI_CHOICE and escaped != text:
            condition |= Q(IContains(expression, escaped))
        query = condition if query is None else query | condition
    return query


def _as_text(value: Any) -> str:
    """A stored value as the index expression reads it (SQLite reads booleans as 1 and 0)."""
    if isinstance(value, bool):
        if connection.vendor == "sqlite":
            return "1" if value else "0"
        return "true" if value else "false"
    return str(value)


class CustomValue(Func):
    """One custom field's value as text: ``CAST(JSON_EXTRACT("custom", '$.key') AS TEXT)``
    on SQLite, ``("custom" ->> 'key')`` on PostgreSQL. The key is written into the SQL, not
    passed as a parameter: SQLite matches an expression index only to the same literal
    expression. Keys are checked against ``KEY_PATTERN`` (letters, digits, _), so they are
    safe there."""

    output_field = TextField()

    def __init__(self, key: str, column: str = "custom") -> None:
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"not a custom field key: {key!r}")
        self.key = key
        super().__init__(F(column))

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = f"CAST(JSON_EXTRACT(%(expressions)s, '$.{self.key}') AS TEXT)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = f"((%(expressions)s) ->> '{self.key}')"
        return self.as_sql(compiler, connection, template=template, **extra)


def index_expression(key: str, column: str = "custom") -> Any:
    """The expression of a filterable field's index and of its filter: the value as text."""
    return CustomValue(key, column)


# --- Storage ----------------------------------------------------------------------------------


def storage_field() -> models.JSONField[Any]:
    """The ``custom`` column of a record model (its values, keyed by field key)."""
    return models.JSONField(gettext_lazy("custom fields"), default=dict, blank=True)


def storage_operations(app_label: str, model_name: str, table: str) -> list[Any]:
    """Migration operations adding ``custom`` to a record model and its history model.

    On SQLite ``AddField`` with a default rebuilds the table, dropping the hand-made partial
    indexes and search triggers (customers 0016/0017): the column is added in place there
    with ``ALTER TABLE … ADD COLUMN``. PostgreSQL adds it in place either way."""
    from django.db import migrations

    def named() -> Any:
        built = storage_field()
        built.set_attributes_from_name("custom")
        return built

    def add(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(
                f'ALTER TABLE "{table}" ADD COLUMN "custom" text NOT NULL DEFAULT \'{{}}\' '
                'CHECK ((JSON_VALID("custom") OR "custom" IS NULL))'
            )
            return
        schema_editor.add_field(apps.get_model(app_label, model_name), named())

    def drop(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(f'ALTER TABLE "{table}" DROP COLUMN "custom"')
            return
        schema_editor.remove_field(apps.get_model(app_label, model_name), named())

    return [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name=model_name, name="custom", field=storage_field())
            ],
            database_operations=[migrations.RunPython(add, drop, elidable=False)],
        ),
        migrations.AddField(
            model_name=f"historical{model_name}", name="custom", field=storage_field()
        ),
    ]
