"""Lead input cleaning, capture from any channel, and edits."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from kehu.accounts.models import Role, User
from kehu.core import config, custom_fields, events
from kehu.core.access import is_admin
from kehu.core.contact_points import normalize_email, normalize_phone
from kehu.core.errors import Conflict, Forbidden, InvalidInput
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version
from kehu.customers import entry
from kehu.customers.models import Industry, Priority, Region, Source
from kehu.customers.reference import find_region
from kehu.leads import conf, hooks, rules
from kehu.leads.models import (
    EventKind,
    Lead,
    Urgency,
    WebForm,
)
from kehu.leads.selectors import CONTACT_FIELDS, lead_contact
from kehu.leads.services._common import (
    _assign,
    _event,
    _lock,
    _now,
)

# --- Input cleaning --------------------------------------------------------------------------
TEXT_FIELDS = {
    "company_name": 200,
    "contact_name": 100,
    "need": 5000,
    "source_detail": 200,
}
EDITABLE_FIELDS = {
    "company_name", "contact_name", "mobile", "email", "region", "industry", "need",
    "urgency", "estimated_value", "priority", "source", "source_detail",
}  # fmt: skip


def _region(value: Any) -> Region | None:
    if value in (None, ""):
        return None
    if isinstance(value, Region):
        return value
    text = str(value).strip()
    region = find_region(text)  # 深圳 and 深圳市 alike, as customers and the import
    if region is None:
        raise InvalidInput(errors={"region": [_("Unknown region “%(value)s”.") % {"value": text}]})
    return region


def _industry(value: Any) -> Industry | None:
    if value in (None, ""):
        return None
    if isinstance(value, Industry):
        return value
    text = str(value).strip()
    industry = Industry.objects.filter(Q(code=text) | Q(name=text)).order_by("code").first()
    if industry is None:
        raise InvalidInput(
            errors={"industry": [_("Unknown industry “%(value)s”.") % {"value": text}]}
        )
    return industry


def clean_lead_data(
    data: dict[str, Any], *, partial: bool = False, require_mobile: bool = False
) -> dict[str, Any]:
    """Validate lead input from any channel; raise InvalidInput with every field's problem."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        for name in sorted(unknown):
            errors[name] = [_("Unknown field.")]
    for name, limit in TEXT_FIELDS.items():
        if name in data:
            text = str(data[name] or "").strip()
            if len(text) > limit:
                errors[name] = [_("At most %(limit)d characters.") % {"limit": limit}]
            values[name] = text
    for name, normalize in (("mobile", normalize_phone), ("email", normalize_email)):
        if name in data:
            try:
                values[name] = normalize(data[name], field=name)
            except InvalidInput as error:
                errors.update(error.errors)
                values[name] = ""
    for name, resolve in (("region", _region), ("industry", _industry)):
        if name in data:
            try:
                values[name] = resolve(data[name])
            except InvalidInput as error:
                errors.update(error.errors)
    for name, choices in (("urgency", Urgency), ("source", Source), ("priority", Priority)):
        if name in data:
            value = str(data[name] or "")
            if value and value not in choices.values:
                errors[name] = [_("Not a valid choice.")]
            values[name] = value
    if "estimated_value" in data:
        raw_value = data["estimated_value"]
        if raw_value in (None, ""):
            values["estimated_value"] = None
        else:
            try:
                amount = Decimal(str(raw_value))
            except InvalidOperation:
                amount = Decimal(-1)
            if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 12:
                errors["estimated_value"] = [_("Enter an amount of zero or more.")]
            values["estimated_value"] = amount
    if not partial:
        if not values.get("contact_name"):
            errors.setdefault("contact_name", [_("This field is required.")])
        if not values.get("source"):
            errors.setdefault("source", [_("This field is required.")])
        if require_mobile and not values.get("mobile") and "mobile" not in errors:
            errors["mobile"] = [_("A mobile number is required.")]
        if (
            not values.get("mobile")
            and not values.get("email")
            and "mobile" not in errors
            and "email" not in errors
        ):
            errors["mobile"] = [_("Give a mobile number or an e-mail address.")]
    if errors:
        first = next(iter(errors.values()))[0]
        raise InvalidInput(first, errors=errors)
    return values


# --- Capture ---------------------------------------------------------------------------------
CAPTURING_ROLES = frozenset({Role.MANAGER, Role.SALES, Role.MARKETING})


def lead_may_capture(user: User) -> bool:
    """Whether the user's role enters leads (the service role works tickets, not leads)."""
    return is_admin(user) or user.role in CAPTURING_ROLES


@transaction.atomic
def lead_capture(
    *,
    actor: User | None,
    data: dict[str, Any],
    form: WebForm | None = None,
    extra: dict[str, Any] | None = None,
) -> Lead:
    """Create a lead from any channel (UI, API, web form, import) and assign it when enabled.

    A lead a sales rep enters themselves is theirs; others go through the assignment rules
    (when ``leads.assign_on_capture`` is on) or wait in the pool for the daily batch.

    Without an acting user (a public web-form post, a system job) there is no role to check:
    the web form's own secret and active flag admit the post, and only admins and marketing
    manage forms.
    """
    if actor is not None and not lead_may_capture(actor):
        raise Forbidden(_("Your role does not capture leads."))
    data = dict(data)
    custom = custom_fields.take("lead", data, user=actor, creating=True)
    if form is not None:
        data.setdefault("source", form.source)
        if not data.get("source_detail"):
            data["source_detail"] = form.source_detail or form.name
    values = clean_lead_data(data, require_mobile=form is not None)
    if form is None:
        entry.check(
            entry.required(conf.REQUIRED_FIELDS.key, conf.LEAD_RULES),
            filled=lambda name: bool(values.get(name)),
        )
    manual_priority = bool(values.get("priority"))
    if not manual_priority:
        values["priority"] = rules.priority_for(
            source=values["source"],
            urgency=values.get("urgency") or Urgency.MEDIUM,
            value=values.get("estimated_value"),
        )
    if not values.get("urgency"):
        values["urgency"] = Urgency.MEDIUM
    now = _now()
    lead = Lead(
        **values,
        priority_manual=manual_priority,
        web_form=form,
        extra=extra or {},
        custom=custom or {},
        created_by=actor,
        created_at=now,
        first_contact_due_at=rules.first_contact_due(values["priority"], now),
    )
    stamp(lead, actor=actor, reason=_("captured"))
    lead.save()
    channel = "web_form" if form is not None else ("user" if actor is not None else "import")
    _event(lead, EventKind.CAPTURED, actor=actor, data={"channel": channel})
    if actor is not None and actor.role == Role.SALES and form is None:
        _assign(lead, assignee=actor, actor=actor, how="self")
    elif config.get(conf.ASSIGN_ON_CAPTURE.key):
        book = rules.load_rulebook(lock=True)
        picked = book.pick(lead)
        if picked is not None:
            rule, candidate = picked
            _assign(
                lead, assignee=User.objects.get(pk=candidate.user_id), actor=actor, rule=rule.name
            )
            book.save_cursors()
    hooks.lead_captured(lead)
    events.emit("lead.captured", lead.pk, actor=actor, data={"channel": channel})
    return lead


# --- Edit ------------------------------------------------------------------------------------
def lead_may_edit(user: User, lead: Lead) -> bool:
    """An open lead within the user's editing scope."""
    return lead.is_open and Lead.objects.editable_by(user).filter(pk=lead.pk).exists()


def _without_masked_echo(actor: User, lead: Lead, changes: dict[str, Any]) -> dict[str, Any]:
    """Drop contact fields that only repeat the masked value ``actor`` was shown.

    Whoever sees 138****1234 and sends it back (an API client echoing a read, a form that
    kept it) must not overwrite the stored number with the mask.
    """
    shown = lead_contact(actor, lead)
    if not shown["masked"]:
        return changes
    return {
        name: value
        for name, value in changes.items()
        if not (name in CONTACT_FIELDS and value == shown[name])
    }


@transaction.atomic
def lead_update(
    *,
    actor: User,
    lead: Lead,
    changes: dict[str, Any],
    version: int | None,
    reason: str = "",
) -> Lead:
    """``reason`` goes into the history row instead of "edited" (a personal-data request
    names itself there)."""
    lead = _lock(lead)
    check_version(lead, version)
    if not lead.is_open:
        raise Conflict(_("Only open leads can be edited."), code="lead_closed")
    changes = dict(changes)
    custom = custom_fields.take(
        "lead",
        changes,
        user=actor,
        current=lead.custom,
        masked=custom_fields.masked_for(actor, lead),
    )
    changes = _without_masked_echo(actor, lead, changes)
    values = clean_lead_data(changes, partial=True)
    if "contact_name" in values and not values["contact_name"]:
        raise InvalidInput(errors={"contact_name": [_("This field is required.")]})
    if "source" in values and not values["source"]:
        raise InvalidInput(errors={"source": [_("This field is required.")]})
    changed = {name for name, value in values.items() if getattr(lead, name) != value}
    for name in changed:
        setattr(lead, name, values[name])
    if custom is not None and custom != (lead.custom or {}):
        lead.custom = custom
        changed.add("custom")
    entry.check(
        entry.required(conf.REQUIRED_FIELDS.key, conf.LEAD_RULES),
        filled=lambda name: bool(getattr(lead, name)),
        touched=changed,
    )
    if not (lead.mobile or lead.email):
        raise InvalidInput(errors={"mobile": [_("Give a mobile number or an e-mail address.")]})
    if "priority" in values:
        if values["priority"]:
            lead.priority_manual = True
        else:
            lead.priority_manual = False
            changed.add("priority")
    if not lead.priority_manual and changed & {"source", "urgency", "estimated_value", "priority"}:
        lead.priority = rules.priority_for(
            source=lead.source, urgency=lead.urgency, value=lead.estimated_value
        )
    if lead.first_contact_at is None:
        lead.first_contact_due_at = rules.first_contact_due(lead.priority, lead.created_at)
    if not changed:
        return lead
    bump_version(lead)
    stamp(lead, actor=actor, reason=reason or _("edited"))
    lead.save()
    _event(lead, EventKind.UPDATED, actor=actor, data={"fields": sorted(changed)})
    return lead
