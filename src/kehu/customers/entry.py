"""Entry rules (必填字段): which fields a new record must carry, as admin settings, checked by
the services so the UI, the API and the import refuse alike.

A required field is satisfied by a value or, where the handbooks allow it, by the marker
待核实 ("to be verified"): typed as the value (``待核实`` in a form, a JSON string, a cell) or
listed in the customer's ``to_verify``. Rules apply when a record is created, and on an edit
to the fields the edit touches, so records entered before a rule existed stay valid until
someone edits those fields (docs/data-entry.md).

Each kind lists its rule names: a rule names a field, or a group of fields one of which is
enough (``contact``: a mobile, a work phone or an e-mail; ``size``: employees or revenue).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import config
from kehu.core.errors import InvalidInput
from kehu.customers.models import TO_VERIFY
from kehu.customers.normalize import fold


@dataclass(frozen=True)
class Rule:
    """One required item: ``fields`` are alternatives (one filled is enough); the error is
    reported on ``fields[0]``; ``verifiable``: 待核实 is accepted for it."""

    name: str
    label: str | Promise
    fields: tuple[str, ...]
    verifiable: bool = True


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {rule.name: rule for rule in rules}


CUSTOMER_RULES = _rules(
    Rule("name", gettext_lazy("Customer name (客户名称)"), ("name",), verifiable=False),
    Rule(
        "contact",
        gettext_lazy("A way to reach a contact (mobile, work phone or e-mail)"),
        ("contacts",),
        verifiable=False,
    ),
    Rule("industry", gettext_lazy("Industry (所属行业)"), ("industry",)),
    Rule("size", gettext_lazy("Size (客户规模)"), ("employees_band", "revenue_band")),
    Rule("source", gettext_lazy("Source (信息来源)"), ("source",)),
    Rule("initial_need", gettext_lazy("Initial need (初步需求)"), ("initial_need",)),
    Rule("region", gettext_lazy("Region"), ("region",)),
    Rule("credit_code", gettext_lazy("Unified social credit code"), ("credit_code",)),
    Rule("address", gettext_lazy("Address"), ("address",)),
    Rule("website", gettext_lazy("Website"), ("website",)),
    Rule("main_business", gettext_lazy("Main business"), ("main_business",)),
)
CONTACT_RULES = _rules(
    Rule("name", gettext_lazy("Contact's name"), ("name",), verifiable=False),
    Rule(
        "contact",
        gettext_lazy("A mobile, a work phone or an e-mail"),
        ("mobile", "work_phone", "email"),
        verifiable=False,
    ),
    Rule("title", gettext_lazy("Title (职位)"), ("title",)),
    Rule("email", gettext_lazy("E-mail"), ("email",), verifiable=False),
)

CUSTOMER_REQUIRED = config.define(
    "customers.required_fields",
    ["name", "contact", "industry", "size", "source", "initial_need"],
    gettext_lazy("Required fields of a new customer"),
    group="customers",
    choices=tuple((name, rule.label) for name, rule in CUSTOMER_RULES.items()),
    help=gettext_lazy(
        "Checked when a customer is created (form, API, import) and when an edit touches the "
        "field. 待核实 is accepted for every field but the name and the contact."
    ),
)
CONTACT_REQUIRED = config.define(
    "customers.contact_required_fields",
    ["name", "contact"],
    gettext_lazy("Required fields of a contact"),
    group="customers",
    choices=tuple((name, rule.label) for name, rule in CONTACT_RULES.items()),
    help=gettext_lazy("Checked when a contact is added and when an edit touches the field."),
)
PRIVATE_MOBILE_NEEDS_REASON = config.define(
    "customers.private_mobile_needs_reason",
    True,
    gettext_lazy("A mobile beside a work number needs a reason"),
    group="customers",
    help=gettext_lazy(
        "The handbooks' rule: do not collect private mobile numbers where a work number "
        "exists. A contact with a work phone gets a mobile only with a reason."
    ),
)


def is_marker(value: Any) -> bool:
    """Whether ``value`` is the 待核实 marker (full-width spaces and case folded)."""
    return isinstance(value, str) and fold(value).strip() == TO_VERIFY


def required(key: str, rules: Mapping[str, Rule]) -> list[Rule]:
    """The rules a setting names, in the setting's order; unknown names are skipped."""
    names = config.get(key) or []
    return [rules[name] for name in names if isinstance(name, str) and name in rules]


def message(rule: Rule) -> str:
    if rule.verifiable:
        return _("%(field)s is required; enter 待核实 if it is not known yet.") % {
            "field": rule.label
        }
    return _("%(field)s is required.") % {"field": rule.label}


def check(
    rules: Iterable[Rule],
    *,
    filled: Callable[[str], bool],
    to_verify: Iterable[str] = (),
    touched: Iterable[str] | None = None,
) -> None:
    """Raise ``InvalidInput`` naming each required item that is neither filled nor marked.

    ``touched``: on an edit, the fields it sets; a rule none of whose fields it touches is
    not checked (None: a new record, every rule is checked).
    """
    marked = set(to_verify)
    touched_set = None if touched is None else set(touched)
    errors: dict[str, list[str]] = {}
    for rule in rules:
        if touched_set is not None and not touched_set & set(rule.fields):
            continue
        if any(filled(field) for field in rule.fields):
            continue
        if rule.verifiable and marked & set(rule.fields):
            continue
        errors[rule.fields[0]] = [message(rule)]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)


def take_markers(data: dict[str, Any], verifiable: Iterable[str]) -> list[str]:
    """Replace 待核实 values in ``data`` by blanks and return the fields they marked."""
    marked: list[str] = []
    for name in verifiable:
        if name in data and is_marker(data[name]):
            data[name] = None
            marked.append(name)
    return marked
