"""Cleaning of customer and contact input: field sets, value parsing, reference codes."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from django.db import models
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from stdnum.cn import uscc
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
)
from stdnum.exceptions import (
    ValidationError as StdnumValidationError,
)

from kehu.accounts.models import User
from kehu.core import config
from kehu.core.contact_points import normalize_email, normalize_phone
from kehu.core.errors import InvalidInput
from kehu.core.services import validate
from kehu.customers import entry
from kehu.customers.models import (
    Contact,
    Customer,
    Gender,
    Industry,
    Region,
    Tag,
)
from kehu.customers.normalize import fold
from kehu.customers.reference import find_region

# The customer's own fields, in the order forms list them and the import reads its columns.
CUSTOMER_FIELDS = (
    "name",
    "kind",
    "credit_code",
    "industry",
    "region",
    "employees_band",
    "revenue_band",
    "source",
    "source_detail",
    "initial_need",
    "address",
    "website",
    "social_accounts",
    "founded_on",
    "main_business",
    "notes",
    "competitors",
    "cooperation_history",
    "annual_budget",
    "priority",
)
# Fields a user may set on create / update (status and owner have their own actions on update).
EDITABLE_FIELDS = frozenset({*CUSTOMER_FIELDS, "to_verify"})
CREATE_FIELDS = EDITABLE_FIELDS | {"status", "owner"}
# Fields the 待核实 marker may be put on.
VERIFIABLE_FIELDS = frozenset(EDITABLE_FIELDS - {"to_verify", "kind", "priority"})
CONTACT_FIELDS = frozenset(
    {
        "name",
        "gender",
        "title",
        "work_phone",
        "mobile",
        "mobile_reason",
        "email",
        "wechat",
        "is_decision_maker",
        "is_primary",
        "notes",
    }
)
CONTACT_INFO_FIELDS = frozenset({"work_phone", "mobile", "email", "wechat", "name"})


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={field: [message]})


def clean_credit_code(value: Any) -> str | None:
    """统一社会信用代码 checked with stdnum.cn.uscc; a message that names the problem."""
    text = fold(str(value or "")).upper()
    if not text:
        return None
    try:
        return str(uscc.validate(text))
    except InvalidLength:
        message = _("The unified social credit code must have 18 characters.")
    except InvalidFormat:
        message = _(
            "The unified social credit code may contain only digits and the letters "
            "0-9 A-H J-N P-R T U W-Y."
        )
    except InvalidComponent:
        message = _("The unified social credit code contains an unknown registration part.")
    except InvalidChecksum:
        message = _("The check digit of the unified social credit code does not match.")
    except StdnumValidationError:
        message = _("This is not a valid unified social credit code.")
    raise _field_error("credit_code", message)


def _resolve_industry(value: Any) -> Industry | None:
    if value in (None, ""):
        return None
    if isinstance(value, Industry):
        return value
    industry = Industry.objects.filter(code=str(value).strip().upper()).first()
    if industry is None:
        raise _field_error(
            "industry", _("Unknown industry code %(code)s.") % {"code": str(value)[:10]}
        )
    return industry


def _resolve_region(value: Any) -> Region | None:
    if value in (None, ""):
        return None
    if isinstance(value, Region):
        return value
    region = find_region(value)  # a code or a name: 深圳, 深圳市, 广东深圳 (as the import)
    if region is None:
        raise _field_error("region", _("Unknown region “%(value)s”.") % {"value": str(value)[:40]})
    return region


def _resolve_user(field: str, value: Any) -> User:
    if isinstance(value, User):
        user: User | None = value
    else:
        try:
            user = User.objects.filter(pk=int(value)).first()
        except (TypeError, ValueError):
            user = None
    if user is None or not user.is_active:
        raise _field_error(field, _("Choose an active user."))
    return user


def _clean_value(name: str, value: Any) -> Any:
    """Turn API/form input into model values; reference codes are checked here."""
    if name == "industry":
        return _resolve_industry(value)
    if name == "region":
        return _resolve_region(value)
    if name == "credit_code":
        return clean_credit_code(value)
    if name == "annual_budget":
        if value in (None, ""):
            return None
        try:
            amount = Decimal(str(value))
        except InvalidOperation as error:
            raise _field_error(name, _("Enter an amount in yuan.")) from error
        if amount < 0 or not amount.is_finite():
            raise _field_error(name, _("Enter an amount in yuan."))
        return amount
    if name == "founded_on":
        if value in (None, ""):
            return None
        if isinstance(value, date):
            return value
        parsed = parse_date(str(value))
        if parsed is None:
            raise _field_error(name, _("Enter a date as YYYY-MM-DD."))
        return parsed
    if name == "to_verify":
        items = list(value or [])
        unknown = [str(item) for item in items if item not in VERIFIABLE_FIELDS]
        if unknown:
            raise _field_error(
                name,
                _("These fields cannot be marked to be verified: %(fields)s.")
                % {"fields": ", ".join(unknown)[:200]},
            )
        return sorted(set(items))
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return value


def _assign(customer: Customer, data: dict[str, Any], allowed: frozenset[str]) -> set[str]:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(
            _("These fields cannot be set here: %(fields)s.") % {"fields": ", ".join(unknown)},
            errors={name: [_("This field cannot be set here.")] for name in unknown},
        )
    changed: set[str] = set()
    for name, raw in data.items():
        value = _clean_value(name, raw)
        attname = _attname(Customer, name)
        current = getattr(customer, name if name in ("industry", "region") else attname)
        if name in ("industry", "region"):
            current_pk = getattr(customer, attname)
            if (value.pk if value is not None else None) != current_pk:
                setattr(customer, name, value)
                changed.add(name)
        elif current != value:
            setattr(customer, name, value)
            changed.add(name)
    return changed


def _attname(model: type[models.Model], name: str) -> str:
    model_field = model._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    return str(model_field.attname)


def _check_text_lengths(instance: models.Model, only: Collection[str] | None = None) -> None:
    """TextFields' max_length is not a model validator in Django; enforce it here (``only``:
    on these fields)."""
    errors: dict[str, list[str]] = {}
    for model_field in _limited_texts(type(instance)):
        if only is not None and model_field.name not in only:
            continue
        if model_field.max_length:
            value = getattr(instance, model_field.attname) or ""
            if len(value) > model_field.max_length:
                errors[model_field.name] = [
                    _("Ensure this value has at most %(limit)d characters (it has %(count)d).")
                    % {"limit": model_field.max_length, "count": len(value)}
                ]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)


@cache
def _limited_texts(model: type[models.Model]) -> tuple[models.TextField[Any, Any], ...]:
    return tuple(
        f for f in model._meta.concrete_fields if isinstance(f, models.TextField) and f.max_length
    )


def _validate_customer(
    customer: Customer, *, batch: bool = False, only: Collection[str] | None = None
) -> None:
    """The customer's field values. ``batch``: without the checks that query per record
    (the industry and region rows exist, the credit code is unused), which a batch's caller
    makes for all its records at once (``creation.customer_prepare``). ``only``: the fields
    an update changed (``customers_update_batch``): the others hold the stored values, which
    were checked when they were written, so only the new values are checked (the same
    checks and messages as for every field)."""
    _check_text_lengths(customer, only)
    exclude = {"number", "name_key", "search_text", "owner", "department", "created_by"}
    if batch:
        exclude |= {"industry", "region", "credit_code"}
    if only is not None:
        exclude |= _CUSTOMER_FIELD_NAMES.difference(only)
    validate(customer, exclude=exclude)


_CUSTOMER_FIELD_NAMES = frozenset(f.name for f in Customer._meta.concrete_fields)


def _clean_gender(value: Any) -> str:
    """The form of address: "m" (先生), "f" (女士) or "" (not known; 称呼 uses the title)."""
    gender = str(value or "").strip().lower()
    if gender not in {"", *Gender.values}:
        raise _field_error(
            "gender", _("Choose m (Mr, 先生), f (Ms, 女士) or leave the form of address empty.")
        )
    return gender


def _clean_contact_data(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(data) - CONTACT_FIELDS)
    if unknown:
        raise InvalidInput(
            _("These fields cannot be set here: %(fields)s.") % {"fields": ", ".join(unknown)},
            errors={name: [_("This field cannot be set here.")] for name in unknown},
        )
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("mobile", "work_phone"):
            cleaned[name] = normalize_phone(value, field=name)
        elif name == "email":
            cleaned[name] = normalize_email(value)
        elif name in ("is_decision_maker", "is_primary"):
            cleaned[name] = bool(value)
        elif name == "gender":
            cleaned[name] = _clean_gender(value)
        else:
            cleaned[name] = str(value or "").strip()
    if not partial and not cleaned.get("name"):
        raise _field_error("name", _("Enter the contact's name."))
    if "name" in cleaned and not cleaned["name"]:
        raise _field_error("name", _("Enter the contact's name."))
    if len(cleaned.get("mobile_reason", "")) > 300:
        raise _field_error("mobile_reason", _("At most 300 characters."))
    return cleaned


def check_contact_rules(
    values: dict[str, Any],
    *,
    touched: Iterable[str] | None = None,
    rules: list[entry.Rule] | None = None,
    mobile_needs_reason: bool | None = None,
) -> None:
    """The contact entry rules (``kehu.customers.entry``) on a contact's resulting values:
    its required fields, and no mobile beside a work number without a reason. ``rules`` and
    ``mobile_needs_reason`` default to the settings (a caller that must not query, the
    import's reading process, reads them beforehand)."""
    if rules is None:
        rules = entry.required(entry.CONTACT_REQUIRED.key, entry.CONTACT_RULES)
    entry.check(rules, filled=lambda name: bool(values.get(name)), touched=touched)
    mobile_touched = touched is None or bool({"mobile", "work_phone"} & set(touched))
    if (
        mobile_touched
        and values.get("mobile")
        and values.get("work_phone")
        and not str(values.get("mobile_reason") or "").strip()
        and (
            config.get(entry.PRIVATE_MOBILE_NEEDS_REASON.key)
            if mobile_needs_reason is None
            else mobile_needs_reason
        )
    ):
        raise _field_error(
            "mobile",
            _(
                "This contact has a work number: a mobile is kept only with a reason "
                "(e.g. the company's own phone). Give the reason or leave the mobile empty."
            ),
        )


def _fix_primary(contacts: list[Contact]) -> None:
    """Exactly one primary contact among new contacts: the first flagged one, else the first."""
    if not contacts:
        return
    flagged = [c for c in contacts if c.is_primary]
    chosen = flagged[0] if flagged else contacts[0]
    for contact in contacts:
        contact.is_primary = contact is chosen


def _tags_from_names(names: Iterable[str]) -> list[Tag]:
    tags: list[Tag] = []
    for raw in names:
        name = str(raw).strip()
        if not name:
            continue
        if len(name) > 50:
            raise _field_error("tags", _("A tag has at most 50 characters."))
        tags.append(Tag.objects.get_or_create(name=name)[0])
    return tags


def take_markers(data: dict[str, Any], current: Iterable[str] = ()) -> None:
    """待核实 typed as a value (form, API, import cell): the field is left blank and marked
    to be verified, in ``data["to_verify"]`` (added to ``current``, the record's marks)."""
    marked = entry.take_markers(data, sorted(VERIFIABLE_FIELDS - {"name"}))
    if marked:
        given = data.get("to_verify")
        base = list(given) if isinstance(given, list | tuple) else list(current)
        data["to_verify"] = sorted({*base, *marked})


def _customer_filled(customer: Customer, contacts: Iterable[Any]) -> Any:
    ways = ("mobile", "work_phone", "email")

    def filled(name: str) -> bool:
        if name == "contacts":
            return any(_get(contact, way) for contact in contacts for way in ways)
        if name in ("industry", "region"):
            return bool(getattr(customer, f"{name}_id"))
        return bool(getattr(customer, name))

    return filled


def _get(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def check_customer_rules(
    customer: Customer, contacts: Iterable[Any] = (), *, touched: Iterable[str] | None = None
) -> None:
    """The customer entry rules (``kehu.customers.entry``) on the customer as it would be
    saved; ``contacts`` (dicts or Contacts) are its new contacts on create."""
    entry.check(
        entry.required(entry.CUSTOMER_REQUIRED.key, entry.CUSTOMER_RULES),
        filled=_customer_filled(customer, list(contacts)),
        to_verify=customer.to_verify or (),
        touched=touched,
    )
