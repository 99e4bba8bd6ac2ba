"""Unsubscribe links (退订链接) and the e-mail headers of one-click unsubscribe (RFC 8058).

A link carries a token signed with Django's ``signing`` (the project's SECRET_KEY and the
salt below): ``[kind, person id, channel, campaign id, send id]``, kind ``c`` for a contact
and ``l`` for a lead. Altering any part (another contact's id, another channel) breaks the
signature, so a link withdraws consent for the one person and channel it was made for and
nothing else. Links do not expire: an old e-mail's link must still work.

The public page ``/marketing/u/<token>/`` shows a confirm button on GET and records the
withdrawal on POST; mail clients POST ``List-Unsubscribe=One-Click`` to the same address
without a CSRF token (RFC 8058), which is why the view is CSRF-exempt: the signed token is
what authorises the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.campaigns.models import (
    Campaign,
    CampaignMember,
    Channel,
    Consent,
    ConsentSource,
    ConsentStatus,
    Send,
    Touch,
    TouchKind,
)
from kehu.campaigns.services.consent import consent_record
from kehu.core import config, links
from kehu.core.errors import KehuError
from kehu.customers.models import Contact
from kehu.leads.models import Lead

SALT = "kehu.campaigns.unsubscribe"

UNSUBSCRIBE_MAILTO = config.define(
    "campaigns.unsubscribe_mailto",
    "",
    _("Unsubscribe mailbox"),
    group="campaigns",
    unit=_("e-mail address"),
    check=lambda value: (
        None
        if not value or ("@" in str(value) and " " not in str(value).strip())
        else str(_("Write an e-mail address or leave it empty."))
    ),
    help=_(
        "When set, marketing e-mails also offer unsubscribing by mail to this address "
        "(List-Unsubscribe: <mailto:…>), besides the one-click link. Someone must read the "
        "mailbox and record the withdrawals; leave it empty to offer the link only."
    ),
)


class UnsubscribeLinkInvalid(KehuError):
    status = 400
    code = "unsubscribe_link_invalid"
    default_detail = _("This unsubscribe link is not valid. Nothing was changed.")


@dataclass(frozen=True)
class LinkTarget:
    """What a valid token names."""

    contact: Contact | None
    lead: Lead | None
    channel: str
    campaign: Campaign | None
    send: Send | None

    @property
    def address(self) -> str:
        person: Any = self.contact or self.lead
        if self.channel == Channel.SMS:
            return str(person.mobile or "")
        if self.channel == Channel.WECOM:
            return str(getattr(person, "wechat", "") or "")
        return str(person.email or "")

    def consent(self) -> Consent | None:
        person = {"contact": self.contact} if self.contact is not None else {"lead": self.lead}
        return Consent.objects.filter(channel=self.channel, **person).first()


def token_for(member: CampaignMember, channel: str, send: Send | None = None) -> str:
    if member.contact_id is not None:
        kind, person_id = "c", member.contact_id
    elif member.lead_id is not None:
        kind, person_id = "l", member.lead_id
    else:
        raise ValueError("a campaign member without a contact or a lead")
    send_id = send.pk if send is not None else 0
    value = [kind, person_id, str(channel), member.campaign_id, send_id]
    return signing.dumps(value, salt=SALT, compress=False)


def link_for(member: CampaignMember, channel: str, send: Send | None = None) -> str:
    """The absolute, signed unsubscribe link of ``member`` on ``channel`` (and ``send``)."""
    return links.absolute(reverse("campaigns:unsubscribe", args=[token_for(member, channel, send)]))


def headers_for(member: CampaignMember, send: Send) -> dict[str, str]:
    """The List-Unsubscribe headers of an e-mail to ``member`` in ``send`` (RFC 2369, 8058)."""
    url = link_for(member, Channel.EMAIL, send)
    targets = [f"<{url}>"]
    mailbox = str(config.get(UNSUBSCRIBE_MAILTO.key) or "").strip()
    if mailbox:
        subject = quote(f"unsubscribe {send.pk}-{member.pk}")
        targets.append(f"<mailto:{mailbox}?subject={subject}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def target_of(token: str) -> LinkTarget:
    """The person, channel, campaign and send a token names; ``UnsubscribeLinkInvalid``
    for a forged, altered or truncated token or a person who no longer exists."""
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature as error:
        raise UnsubscribeLinkInvalid() from error
    if not (
        isinstance(value, list)
        and len(value) == 5
        and value[0] in ("c", "l")
        and all(isinstance(part, int) and not isinstance(part, bool) for part in value[1:2])
        and value[2] in Channel.values
        and all(isinstance(part, int) and not isinstance(part, bool) for part in value[3:])
    ):
        raise UnsubscribeLinkInvalid()
    kind, person_id, channel, campaign_id, send_id = value
    contact = Contact.objects.filter(pk=person_id).first() if kind == "c" else None
    lead = Lead.objects.filter(pk=person_id).first() if kind == "l" else None
    if contact is None and lead is None:
        raise UnsubscribeLinkInvalid()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    send = Send.objects.filter(pk=send_id, campaign_id=campaign_id).first() if send_id else None
    return LinkTarget(contact=contact, lead=lead, channel=channel, campaign=campaign, send=send)


@transaction.atomic
def unsubscribe(token: str) -> LinkTarget:
    """Withdraw the consent a link names (idempotent: a second use changes nothing) and
    record the touch UNSUBSCRIBED on its campaign."""
    target = target_of(token)
    before = target.consent()
    already = before is not None and before.status == ConsentStatus.WITHDRAWN
    consent_record(
        None,
        contact=target.contact,
        lead=target.lead,
        channel=target.channel,
        status=ConsentStatus.WITHDRAWN,
        source=ConsentSource.UNSUBSCRIBE_LINK,
        send=target.send,
    )
    if not already and target.campaign is not None:
        customer_id = (
            target.contact.customer_id if target.contact is not None else target.lead.customer_id  # type: ignore[union-attr]
        )
        Touch.objects.create(
            campaign=target.campaign,
            kind=TouchKind.UNSUBSCRIBED,
            at=timezone.now(),
            customer_id=customer_id,
            contact=target.contact,
            lead=target.lead,
            detail=str(target.channel),
        )
    return target
