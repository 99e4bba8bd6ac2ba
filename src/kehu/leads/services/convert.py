"""Conversion of a confirmed lead into a customer (and optionally an opportunity)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import events
from kehu.core.errors import Conflict, Forbidden, InvalidInput
from kehu.core.formatting import money
from kehu.core.history import stamp
from kehu.core.services import bump_version
from kehu.customers import entry
from kehu.customers import services as customers
from kehu.customers.models import TO_VERIFY, Customer, CustomerKind
from kehu.leads import hooks
from kehu.leads.models import (
    EventKind,
    Lead,
    LeadStatus,
    Urgency,
)
from kehu.leads.services._common import (
    _event,
    _lock,
    _now,
    lead_may_manage,
)
from kehu.opportunities.services import opportunity_create


# --- Conversion ------------------------------------------------------------------------------
def _unmapped_notes(lead: Lead) -> str:
    """What the customer record has no field for, kept in its notes (nothing typed is lost)."""
    lines = [
        _("Converted from lead #%(id)s, captured %(when)s.")
        % {
            "id": lead.pk,
            "when": timezone.localtime(lead.created_at).strftime("%Y-%m-%d %H:%M"),
        }
    ]
    lines.append(_("Urgency: %(urgency)s") % {"urgency": Urgency(lead.urgency).label})
    if lead.estimated_value is not None:
        lines.append(_("Estimated value: %(value)s") % {"value": money(lead.estimated_value)})
    if lead.web_form_id and lead.web_form is not None:
        lines.append(_("Web form: %(form)s") % {"form": lead.web_form.name})
    for name, value in sorted((lead.extra or {}).items()):
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _contact_data(lead: Lead) -> dict[str, Any]:
    data: dict[str, Any] = {"name": lead.contact_name, "is_primary": True}
    if lead.mobile:
        data["mobile"] = lead.mobile
    if lead.email:
        data["email"] = lead.email
    if lead.need:
        data["notes"] = (_("Lead need: %(need)s") % {"need": lead.need})[:1000]
    return data


def lead_may_convert(user: User, lead: Lead) -> bool:
    """A confirmed lead is converted by its assignee or a manager over it."""
    return lead.status == LeadStatus.CONFIRMED and (
        lead.assignee_id == user.pk or lead_may_manage(user, lead)
    )


@transaction.atomic
def lead_convert(
    *,
    actor: User,
    lead: Lead,
    customer_id: int | None = None,
    force: bool = False,
    create_opportunity: bool = False,
    opportunity_name: str = "",
) -> Lead:
    """Turn a qualified lead into a customer + contact (and optionally an opportunity).

    The customer service's duplicate check runs first: when it finds matches the call raises
    ``DuplicateCustomer`` (409, with the matches) and nothing is saved; the caller then either
    links the lead to one of them (``customer_id``) or insists (``force``).
    """
    lead = _lock(lead)
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict(_("This lead was already converted."), code="already_converted")
    if lead.assignee_id != actor.pk and not lead_may_manage(actor, lead):
        raise Forbidden(_("Only the lead's assignee or their manager can convert it."))
    if lead.status != LeadStatus.CONFIRMED:
        raise Conflict(
            _("Only leads confirmed as contactable can be converted."), code="bad_status"
        )
    owner = lead.assignee or actor
    contact = _contact_data(lead)
    if customer_id is not None:
        customer = Customer.objects.editable_by(actor).filter(pk=customer_id).first()
        if customer is None:
            raise InvalidInput(errors={"customer_id": [_("Choose a customer you can edit.")]})
        known = customer.contacts.filter(
            Q(mobile=lead.mobile) if lead.mobile else Q(email__iexact=lead.email)
        ).exists()
        if not known:
            customers.contact_create(
                actor=actor, customer=customer, data={**contact, "is_primary": False}, force=True
            )
    else:
        company = "" if entry.is_marker(lead.company_name) else lead.company_name
        data: dict[str, Any] = {
            "name": company or lead.contact_name,
            "kind": CustomerKind.COMPANY if company else CustomerKind.INDIVIDUAL,
            "industry": lead.industry,
            "region": lead.region,
            "source": lead.source,
            "source_detail": lead.source_detail,
            "initial_need": lead.need,
            "priority": lead.priority,
            "notes": _unmapped_notes(lead),
            "owner": owner,
            "to_verify": _to_verify(lead),
        }
        customer = customers.customer_create(
            actor=actor, data=data, contacts=[contact], force=force
        )
    opportunity_id: int | None = None
    if create_opportunity:
        opportunity_id = _create_opportunity(actor, customer, lead, opportunity_name)
    now = _now()
    lead.customer = customer
    lead.opportunity_id = opportunity_id
    lead.status = LeadStatus.CONVERTED
    lead.converted_at = now
    lead.converted_by = actor
    if lead.first_contact_at is None:
        lead.first_contact_at = now
    bump_version(lead)
    stamp(lead, actor=actor, reason=_("converted"))
    lead.save()
    _event(
        lead,
        EventKind.CONVERTED,
        actor=actor,
        data={
            "customer": customer.pk,
            "opportunity": opportunity_id,
            "linked": customer_id is not None,
        },
    )
    hooks.lead_converted(lead)
    events.emit(
        "lead.converted",
        lead.pk,
        actor=actor,
        data={"customer_id": customer.pk, "opportunity_id": opportunity_id},
    )
    return lead


def _to_verify(lead: Lead) -> list[str]:
    """The customer's required fields the lead does not carry (a size, often an industry):
    marked 待核实, for the owner's verification after the first contact, as the handbooks
    have it, rather than refusing the conversion (docs/data-entry.md)."""
    carried = {
        "industry": lead.industry_id,
        "region": lead.region_id,
        "source": lead.source,
        "initial_need": lead.need,
    }
    rules = entry.required(entry.CUSTOMER_REQUIRED.key, entry.CUSTOMER_RULES)
    return sorted(
        rule.fields[0]
        for rule in rules
        if rule.verifiable and not any(carried.get(name) for name in rule.fields)
    )


def _create_opportunity(actor: User, customer: Any, lead: Lead, name: str) -> int:
    """An opportunity in the first stage (初步接触) carrying the lead's need and value."""
    data: dict[str, Any] = {
        "name": (name.strip() or str(lead))[:200],
        "stage": "initial_contact",
        "needs": lead.need or TO_VERIFY,
        "source": lead.source,
    }
    if lead.estimated_value is not None:
        data["amount"] = lead.estimated_value
    if lead.assignee is not None and lead.assignee.pk != actor.pk:
        data["owner"] = lead.assignee
    opportunity = opportunity_create(actor=actor, customer=customer, data=data)
    return int(opportunity.pk)
