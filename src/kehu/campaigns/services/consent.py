"""Marketing consent (营销同意/退订) per contact or lead and channel, and who a send may reach.

Strict opt-in: a person is reachable on a channel only with a granted ``Consent`` for it.
A withdrawal is honoured forever: after one, only the person's own opt-in (a web form with
the consent checkbox, source ``web_form``) or staff recording a reason (source ``staff`` and
a note) grants it again; an import, the API or a reply cannot. Every change is a
``ConsentChange`` row (when, how, who, and the send whose link was used).

``partition(channel, members)`` splits a campaign's members into the recipients of a send
(member, address) and the skipped ones counted by reason, in a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.campaigns.models import (
    CampaignMember,
    Channel,
    Consent,
    ConsentChange,
    ConsentSource,
    ConsentStatus,
    Send,
)
from kehu.core.errors import InvalidInput, NotFound
from kehu.customers.models import Contact, Customer
from kehu.leads.models import Lead

# Why a member is left out of a send, in the order they are checked (the first that applies
# is the one counted). ``duplicate_address``: a second member with the same address in the
# same send (a contact who is also a lead), so nobody gets the message twice.
NO_CONSENT = "no_consent"
UNSUBSCRIBED = "unsubscribed"
NO_ADDRESS = "no_address"
LEFT_COMPANY = "left_company"
DUPLICATE_ADDRESS = "duplicate_address"

REASON_LABELS: dict[str, Any] = {
    LEFT_COMPANY: gettext_lazy("left the company"),
    UNSUBSCRIBED: gettext_lazy("unsubscribed"),
    NO_CONSENT: gettext_lazy("no marketing consent"),
    NO_ADDRESS: gettext_lazy("no address for the channel"),
    DUPLICATE_ADDRESS: gettext_lazy("same address as another member"),
}

# Sources that may grant again after a withdrawal (staff only with a note, see above)
REGRANT_SOURCES = (ConsentSource.WEB_FORM, ConsentSource.STAFF)

# Sources only the person produces (no user records them: a user cannot claim an opt-in)
PERSON_SOURCES = (ConsentSource.WEB_FORM, ConsentSource.UNSUBSCRIBE_LINK)

# The contact / lead field that holds the address on each channel (leads have no WeCom id)
CONTACT_ADDRESS = {Channel.EMAIL: "email", Channel.SMS: "mobile", Channel.WECOM: "wechat"}
LEAD_ADDRESS = {Channel.EMAIL: "email", Channel.SMS: "mobile"}


@dataclass
class Partition:
    """Who a send reaches: ``recipients`` (member, address) in member order, and the members
    left out counted by reason (only reasons that occurred are keys)."""

    recipients: list[tuple[CampaignMember, str]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def _channel(value: Any) -> str:
    if value not in Channel.values:
        message = _("Unknown channel %(value)s; use one of %(choices)s.") % {
            "value": str(value)[:20],
            "choices": ", ".join(Channel.values),
        }
        raise InvalidInput(message, errors={"channel": [message]})
    return str(value)


def partition(channel: str, members: QuerySet[CampaignMember]) -> Partition:
    """Split ``members`` into the recipients on ``channel`` and the skipped ones by reason.

    Three queries whatever the number of members: the members with their contact or lead
    and the current consent of each (one query, read in chunks), and the addresses that
    withdrew on this channel anywhere (a person unsubscribed as a contact is not mailed as
    a lead with the same address).
    """
    channel = _channel(channel)
    contact_field = CONTACT_ADDRESS.get(Channel(channel), "")
    lead_field = LEAD_ADDRESS.get(Channel(channel), "")
    withdrawn = _withdrawn_addresses(channel, contact_field, lead_field)
    rows = members.select_related("contact", "lead").annotate(
        **_consent_columns("contact", channel), **_consent_columns("lead", channel)
    )
    rows = rows.order_by("id")
    result = Partition()
    seen: set[str] = set()
    skipped = result.skipped
    for member in rows.iterator(chunk_size=5000):
        contact = member.contact
        lead = member.lead
        values = member.__dict__
        if contact is not None:
            kind = "contact"
            address = getattr(contact, contact_field, "") if contact_field else ""
            left = not contact.is_active
        elif lead is not None:
            kind = "lead"
            address = getattr(lead, lead_field, "") if lead_field else ""
            left = False
        else:  # neither: nothing to reach
            skipped[NO_ADDRESS] = skipped.get(NO_ADDRESS, 0) + 1
            continue
        status = values[f"{kind}_consent"]
        key = _address_key(channel, address)
        if left:
            reason = LEFT_COMPANY
        elif status == ConsentStatus.WITHDRAWN or (
            key in withdrawn
            and not _opted_in_again(
                values[f"{kind}_consent_source"], values[f"{kind}_consent_at"], withdrawn[key]
            )
        ):
            reason = UNSUBSCRIBED
        elif status != ConsentStatus.GRANTED:
            reason = NO_CONSENT
        elif not key:
            reason = NO_ADDRESS
        elif key in seen:
            reason = DUPLICATE_ADDRESS
        else:
            seen.add(key)
            result.recipients.append((member, address.strip()))
            continue
        skipped[reason] = skipped.get(reason, 0) + 1
    return result


def _consent_columns(kind: str, channel: str) -> dict[str, Subquery]:
    """The status, source and time of the person's consent on ``channel`` as columns."""
    current = Consent.objects.filter(**{kind: OuterRef(f"{kind}_id")}, channel=channel)
    return {
        f"{kind}_consent": Subquery(current.values("status")[:1]),
        f"{kind}_consent_source": Subquery(current.values("source")[:1]),
        f"{kind}_consent_at": Subquery(current.values("changed_at")[:1]),
    }


def _opted_in_again(source: str | None, at: datetime | None, withdrawn_at: datetime) -> bool:
    """A grant that overrides a withdrawal of the same address by another record: the
    person's own opt-in or staff's, given after the withdrawal."""
    return source in REGRANT_SOURCES and at is not None and at > withdrawn_at


def _address_key(channel: str, address: str | None) -> str:
    text = (address or "").strip()
    return text.lower() if channel == Channel.EMAIL else text


def _withdrawn_addresses(channel: str, contact_field: str, lead_field: str) -> dict[str, datetime]:
    """Every address on ``channel`` whose contact or lead withdrew, with the latest time of
    a withdrawal (one query)."""
    fields = [f"contact__{contact_field}"] if contact_field else []
    if lead_field:
        fields.append(f"lead__{lead_field}")
    if not fields:
        return {}
    found: dict[str, datetime] = {}
    for row in Consent.objects.filter(channel=channel, status=ConsentStatus.WITHDRAWN).values_list(
        "changed_at", *fields
    ):
        at = row[0]
        for value in row[1:]:
            key = _address_key(channel, value)
            if key and (key not in found or found[key] < at):
                found[key] = at
    return found


# --- Recording ---------------------------------------------------------------------------------


def _choice(value: Any, choices: Iterable[str], name: str) -> str:
    allowed = list(choices)
    if value not in allowed:
        message = _("%(value)s is not one of %(choices)s.") % {
            "value": str(value)[:40],
            "choices": ", ".join(allowed),
        }
        raise InvalidInput(message, errors={name: [message]})
    return str(value)


def visible_contacts(user: Any) -> QuerySet[Contact]:
    """The contacts of the customers ``user`` sees (the access gate is the customer's)."""
    return Contact.objects.filter(customer__in=Customer.objects.visible_to(user).values("pk"))


def visible_leads(user: Any) -> QuerySet[Lead]:
    return Lead.objects.visible_to(user)


def consent_record(
    actor: Any,
    *,
    contact: Contact | None = None,
    lead: Lead | None = None,
    channel: str,
    status: str,
    source: str,
    note: str = "",
    send: Send | None = None,
    at: Any = None,
) -> Consent:
    """Record ``status`` for the contact or lead on ``channel``; returns the current consent.

    ``actor`` None is the person themself (the unsubscribe link, a web form); a user must see
    the person (``NotFound`` otherwise). Recording the status it already has changes nothing.
    A grant after a withdrawal needs source ``web_form``, or ``staff`` with a note (the
    reason): ``InvalidInput`` on ``status`` otherwise.
    """
    return _record(
        actor,
        contact=contact,
        lead=lead,
        channel=channel,
        status=status,
        source=source,
        note=note,
        send=send,
        at=at,
        checked=False,
    )


@transaction.atomic
def _record(
    actor: Any,
    *,
    contact: Contact | None,
    lead: Lead | None,
    channel: str,
    status: str,
    source: str,
    note: str,
    send: Send | None,
    at: Any,
    checked: bool,
) -> Consent:
    if (contact is None) == (lead is None):
        message = _("Name either a contact or a lead.")
        raise InvalidInput(message, errors={"contact": [message]})
    channel = _channel(channel)
    status = _choice(status, ConsentStatus.values, "status")
    source = _choice(source, ConsentSource.values, "source")
    note = str(note or "").strip()
    if len(note) > 300:
        message = _("At most 300 characters.")
        raise InvalidInput(message, errors={"note": [message]})
    if actor is not None and not checked:
        if contact is not None and not visible_contacts(actor).filter(pk=contact.pk).exists():
            raise NotFound("contact")
        if lead is not None and not visible_leads(actor).filter(pk=lead.pk).exists():
            raise NotFound("lead")
    if actor is not None and source in PERSON_SOURCES:
        message = _("Only the person records this source (their own link or web form).")
        raise InvalidInput(message, errors={"source": [message]})
    if source == ConsentSource.STAFF and actor is None:
        message = _("Staff consent needs the user who records it.")
        raise InvalidInput(message, errors={"source": [message]})
    person = {"contact": contact} if contact is not None else {"lead": lead}
    when = at or timezone.now()
    consent = Consent.objects.select_for_update().filter(channel=channel, **person).first()
    if consent is not None and consent.status == status:
        return consent
    if (
        status == ConsentStatus.GRANTED
        and consent is not None
        and _ever_withdrawn(consent)
        and not (source == ConsentSource.WEB_FORM or (source == ConsentSource.STAFF and note))
    ):
        message = _(
            "This person unsubscribed: only their own opt-in (a web form) or staff giving "
            "a reason may grant consent again."
        )
        raise InvalidInput(message, code="consent_withdrawn", errors={"status": [message]})
    if consent is None:
        consent = Consent.objects.create(
            channel=channel, status=status, source=source, changed_at=when, **person
        )
    else:
        consent.status = status
        consent.source = source
        consent.changed_at = when
        consent.save(update_fields=["status", "source", "changed_at"])
    ConsentChange.objects.create(
        consent=consent,
        status=status,
        source=source,
        note=note,
        changed_at=when,
        changed_by=actor,
        send=send,
    )
    return consent


def _ever_withdrawn(consent: Consent) -> bool:
    if consent.status == ConsentStatus.WITHDRAWN:
        return True
    return ConsentChange.objects.filter(consent=consent, status=ConsentStatus.WITHDRAWN).exists()


def consent_may_record(user: Any) -> bool:
    """Whether ``user`` may record consent at all (every signed-in role that sees people)."""
    return bool(user is not None and user.is_authenticated and user.is_active)


# --- The web form's consent checkbox -----------------------------------------------------------

# A lead web form's optional checkbox (kept in the lead's ``extra`` like every field the
# leads app does not know) and the channels it covers, e.g. "email,sms"; without the second
# field the checkbox covers every channel the person gave an address for.
WEB_FORM_FIELD = "marketing_consent"
WEB_FORM_CHANNELS_FIELD = "consent_channels"
TICKED = {"1", "on", "yes", "true", "y", "是", "同意"}


def web_form_consent(lead: Lead) -> list[Consent]:
    """Record WEB_FORM consent for a lead whose web form post ticked the consent box (the
    ``on_lead_captured`` callback of the leads app, after the capture's commit)."""
    if lead.web_form_id is None:
        return []
    extra = lead.extra if isinstance(lead.extra, dict) else {}
    if str(extra.get(WEB_FORM_FIELD, "")).strip().lower() not in TICKED:
        return []
    named = {
        part.strip().lower()
        for part in str(extra.get(WEB_FORM_CHANNELS_FIELD, "")).split(",")
        if part.strip()
    }
    addresses = {Channel.EMAIL: lead.email, Channel.SMS: lead.mobile}
    recorded = []
    for channel, address in addresses.items():
        if address and (not named or channel.value in named):
            recorded.append(
                consent_record(
                    None,
                    lead=lead,
                    channel=channel,
                    status=ConsentStatus.GRANTED,
                    source=ConsentSource.WEB_FORM,
                    note=str(lead.web_form)[:300] if lead.web_form_id else "",
                )
            )
    return recorded
