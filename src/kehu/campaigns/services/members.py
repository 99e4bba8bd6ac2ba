"""Campaign members: contacts and leads in a campaign, with their responses
(邀请 → 报名 → 参加 → 回复/感兴趣).

Members are added from a segment in bulk (``members_add_from_segment``: the segment's people as
the actor sees them, those already in skipped) or one by one; each addition is a touch
``added``. A response that moves a member forward is a touch ``response`` (attribution counts
it); moving back corrects a mistake and records none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.campaigns.models import (
    RESPONSE_ORDER,
    Campaign,
    CampaignForm,
    CampaignMember,
    Response,
    Segment,
    TouchKind,
)
from kehu.campaigns.selectors import segments as segment_selectors
from kehu.campaigns.services import touches
from kehu.campaigns.services.campaigns import lock_campaign
from kehu.core import audit
from kehu.core.errors import Conflict, InvalidInput, NotFound
from kehu.customers.models import Contact, Customer
from kehu.leads.models import Lead

BATCH = 2000
MAX_BULK_RESPONSES = 5000


@dataclass(frozen=True)
class Added:
    """What a bulk addition did: members added, people already in the campaign."""

    added: int
    already: int


def _add_rows(
    campaign: Campaign,
    contacts: Iterable[tuple[int, int]],
    leads: Iterable[tuple[int, int | None]],
    segment: Segment | None,
) -> Added:
    """Insert members for (contact id, customer id) and (lead id, customer id) pairs not yet in
    the campaign, and their ``added`` touches; bulk inserts in batches."""
    in_contacts = set(
        CampaignMember.objects.filter(campaign=campaign, contact__isnull=False).values_list(
            "contact_id", flat=True
        )
    )
    in_leads = set(
        CampaignMember.objects.filter(campaign=campaign, lead__isnull=False).values_list(
            "lead_id", flat=True
        )
    )
    now = timezone.now()
    rows: list[CampaignMember] = []
    already = 0
    for contact_id, customer_id in contacts:
        if contact_id in in_contacts:
            already += 1
            continue
        in_contacts.add(contact_id)
        rows.append(
            CampaignMember(
                campaign=campaign,
                contact_id=contact_id,
                customer_id=customer_id,
                segment=segment,
                added_at=now,
            )
        )
    for lead_id, lead_customer_id in leads:
        if lead_id in in_leads:
            already += 1
            continue
        in_leads.add(lead_id)
        rows.append(
            CampaignMember(
                campaign=campaign,
                lead_id=lead_id,
                customer_id=lead_customer_id,
                segment=segment,
                added_at=now,
            )
        )
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        CampaignMember.objects.bulk_create(chunk)
        detail = segment.name if segment is not None else ""
        touches.record_many(
            touches.touches_of_members(chunk, TouchKind.ADDED, at=now, detail=detail)
        )
    return Added(added=len(rows), already=already)


@transaction.atomic
def members_add_from_segment(
    *, actor: User, campaign: Campaign | int, segment_id: int, primary_only: bool = False
) -> Added:
    """Add a segment's people (as the actor sees them) to the campaign: a customers segment
    gives its customers' active contacts (or only the primary ones)."""
    locked = lock_campaign(actor, campaign)
    segment = Segment.objects.visible_to(actor).filter(pk=segment_id).first()
    if segment is None:
        raise InvalidInput(errors={"segment_id": [_("Choose one of your segments.")]})
    contacts, leads = segment_selectors.segment_people(segment, actor, primary_only=primary_only)
    return _add_rows(
        locked,
        contacts.order_by().values_list("pk", "customer_id").iterator(chunk_size=BATCH),
        leads.order_by().values_list("pk", "customer_id").iterator(chunk_size=BATCH),
        segment,
    )


@transaction.atomic
def member_add(
    *,
    actor: User,
    campaign: Campaign | int,
    contact_id: int | None = None,
    lead_id: int | None = None,
) -> CampaignMember:
    """Add one contact or one lead the actor sees (422 when neither or both, or out of scope;
    409 when already a member)."""
    locked = lock_campaign(actor, campaign)
    if (contact_id is None) == (lead_id is None):
        raise InvalidInput(
            errors={"contact_id": [_("Choose a contact or a lead.")]},
        )
    if contact_id is not None:
        contact = (
            Contact.objects.filter(
                pk=contact_id,
                is_active=True,
                customer__in=Customer.objects.visible_to(actor).values("pk"),
            )
            .values_list("pk", "customer_id")
            .first()
        )
        if contact is None:
            raise InvalidInput(errors={"contact_id": [_("Choose a contact you can see.")]})
        if CampaignMember.objects.filter(campaign=locked, contact_id=contact_id).exists():
            raise Conflict(_("This contact is already a member."), code="already_member")
        _add_rows(locked, [contact], [], None)
        return CampaignMember.objects.get(campaign=locked, contact_id=contact_id)
    assert lead_id is not None
    lead = (
        Lead.objects.visible_to(actor).filter(pk=lead_id).values_list("pk", "customer_id").first()
    )
    if lead is None:
        raise InvalidInput(errors={"lead_id": [_("Choose a lead you can see.")]})
    if CampaignMember.objects.filter(campaign=locked, lead_id=lead_id).exists():
        raise Conflict(_("This lead is already a member."), code="already_member")
    _add_rows(locked, [], [lead], None)
    return CampaignMember.objects.get(campaign=locked, lead_id=lead_id)


@audit.audited(
    "campaigns.campaignmember_deleted", target="member_id", model="campaigns.campaignmember"
)
@transaction.atomic
def member_remove(*, actor: User, campaign: Campaign | int, member_id: int) -> None:
    """Remove a member (its touches stay: the campaign did reach them)."""
    locked = lock_campaign(actor, campaign)
    deleted, _rows = CampaignMember.objects.filter(campaign=locked, pk=member_id).delete()
    if not deleted:
        raise NotFound("member")


def _check_response(response: str) -> None:
    if response not in RESPONSE_ORDER:
        raise InvalidInput(errors={"response": [_("Choose a response.")]})


@transaction.atomic
def members_set_response(
    *, actor: User, campaign: Campaign | int, member_ids: Sequence[int], response: str
) -> int:
    """Set the response of the selected members (up to 5,000); the forward moves are touches
    ``response``. Returns how many members changed. Ids of other campaigns are 422."""
    locked = lock_campaign(actor, campaign)
    _check_response(response)
    ids = sorted(set(member_ids))
    if not ids:
        raise InvalidInput(errors={"member_ids": [_("Select members.")]})
    if len(ids) > MAX_BULK_RESPONSES:
        raise InvalidInput(
            errors={
                "member_ids": [
                    _("At most %(count)s members at once.") % {"count": MAX_BULK_RESPONSES}
                ]
            }
        )
    members = list(
        CampaignMember.objects.select_for_update()
        .filter(campaign=locked, pk__in=ids)
        .only("pk", "campaign_id", "contact_id", "lead_id", "customer_id", "response")
    )
    if len(members) != len(ids):
        raise InvalidInput(errors={"member_ids": [_("Some members are not in this campaign.")]})
    rank = RESPONSE_ORDER.index(response)
    changed = [member for member in members if member.response != response]
    forward = [m for m in changed if RESPONSE_ORDER.index(m.response) < rank]
    if not changed:
        return 0
    now = timezone.now()
    CampaignMember.objects.filter(pk__in=[m.pk for m in changed]).update(
        response=response, responded_at=now
    )
    label = str(Response(response).label)
    touches.record_many(
        touches.touches_of_members(forward, TouchKind.RESPONSE, at=now, detail=label)
    )
    return len(changed)


def member_set_response(
    *, actor: User, campaign: Campaign | int, member_id: int, response: str
) -> CampaignMember:
    """One member's response (404 for a member of another campaign)."""
    campaign_id = campaign if isinstance(campaign, int) else campaign.pk
    if not CampaignMember.objects.filter(campaign_id=campaign_id, pk=member_id).exists():
        lock_campaign(actor, campaign)  # 404/403 for the campaign first
        raise NotFound("member")
    members_set_response(actor=actor, campaign=campaign, member_ids=[member_id], response=response)
    return CampaignMember.objects.get(pk=member_id)


# --- leads captured through a campaign's web form -------------------------------------------


def lead_captured(lead: Lead) -> None:
    """A ``kehu.leads.hooks.on_lead_captured`` callback: a lead from a web form attached to a
    campaign becomes a member (registered: they answered) with a ``lead`` touch."""
    if lead.web_form_id is None:
        return
    link = CampaignForm.objects.filter(web_form_id=lead.web_form_id).values("campaign_id").first()
    if link is None:
        return
    campaign_id = link["campaign_id"]
    with transaction.atomic():
        CampaignMember.objects.get_or_create(
            campaign_id=campaign_id,
            lead_id=lead.pk,
            defaults={
                "customer_id": lead.customer_id,
                "response": Response.REGISTERED,
                "responded_at": lead.created_at,
                "added_at": lead.created_at,
            },
        )
        touches.record(
            campaign_id,
            TouchKind.LEAD,
            lead=lead,
            customer=None,
            at=lead.created_at,
            detail=str(lead.web_form.name if lead.web_form else "")[:300],
        )
