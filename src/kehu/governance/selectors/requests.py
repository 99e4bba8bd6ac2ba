"""Reads of the personal-data requests: the list with its deadlines, and everything Kehu holds
about the person of a request (the copy handed out for an access request, JSON or XLSX).

Every section of the copy is one query (two for the tickets with their messages and the
consents with their changes), whatever the person's number of rows.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from kehu.campaigns.models import CampaignMember, Consent, ConsentChange, Message, Touch
from kehu.core.errors import Forbidden
from kehu.core.filters import ListFilters
from kehu.customers.models import Contact, Customer
from kehu.followups.models import FollowUp, SentEmail
from kehu.governance.models import RequestKind, RequestStatus, SubjectRequest
from kehu.governance.services.requests import requests_may_manage, subject_of
from kehu.integrations.models import ExternalId, ExternalKind
from kehu.leads.models import Lead, LeadEvent
from kehu.pools.models import RevealLog
from kehu.service.models import Ticket, TicketMessage

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RequestFilters(ListFilters):
    """The request list: ``status``, ``kind``, ``overdue`` (open and past the deadline)."""

    status: RequestStatus | None = None
    kind: RequestKind | None = None
    overdue: bool = False

    def apply(self, queryset: QuerySet[Any], *args: Any, **kwargs: Any) -> QuerySet[Any]:
        if self.status:
            queryset = queryset.filter(status=self.status)
        if self.kind:
            queryset = queryset.filter(kind=self.kind)
        if self.overdue:
            queryset = queryset.filter(status=RequestStatus.OPEN, deadline__lt=timezone.localdate())
        return queryset


def request_list(*, user: Any, filters: RequestFilters | None = None) -> QuerySet[SubjectRequest]:
    """Open requests first, the earliest deadline first; then the answered ones, newest first."""
    if not requests_may_manage(user):
        raise Forbidden(_("Only administrators handle personal-data requests."))
    rows = SubjectRequest.objects.select_related("handled_by").order_by(
        models.Case(
            models.When(status=RequestStatus.OPEN, then=0),
            default=1,
            output_field=models.IntegerField(),
        ),
        models.Case(models.When(status=RequestStatus.OPEN, then="deadline"), default=None).asc(
            nulls_last=True
        ),
        "-id",
    )
    return (filters or RequestFilters()).apply(rows)


def is_overdue(request: SubjectRequest, today: date | None = None) -> bool:
    return request.status == RequestStatus.OPEN and request.deadline < (
        today or timezone.localdate()
    )


def requests_of(*, user: Any, subject_type: str, subject_ids: list[int]) -> list[SubjectRequest]:
    """The requests of these people (one query), for the cards on their pages."""
    if not requests_may_manage(user):
        return []
    return list(
        SubjectRequest.objects.filter(
            subject_type=subject_type, subject_id__in=subject_ids
        ).order_by("-id")
    )


# --- The copy of a person's data -----------------------------------------------------------


@dataclass
class Part:
    key: str
    title: str
    columns: list[tuple[str, str]]  # (field, heading)
    rows: list[dict[str, Any]]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat(timespec="seconds")
            if timezone.is_aware(value)
            else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _columns(model: type[models.Model], skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    found = []
    for field in model._meta.concrete_fields:
        if field.name in skip:
            continue
        name = field.attname if field.is_relation else field.name
        found.append((name, str(field.verbose_name)))
    return found


def _part(
    key: str,
    title: str,
    model: type[models.Model],
    objects: Any,
    *,
    skip: tuple[str, ...] = (),
    extra: tuple[tuple[str, str, Any], ...] = (),
) -> Part:
    columns = _columns(model, skip) + [(name, heading) for name, heading, _get in extra]
    rows = []
    for obj in objects:
        row = {name: _plain(getattr(obj, name)) for name, _heading in _columns(model, skip)}
        row.update({name: _plain(get(obj)) for name, _heading, get in extra})
        rows.append(row)
    return Part(key, title, columns, rows)


def _history(subject: Contact | Lead) -> Part:
    model = subject.history.model
    rows = subject.history.order_by("history_date", "history_id")
    return _part(
        "history",
        _("History of the record"),
        model,
        rows,
        skip=("history_id", "request_id"),
    )


def _contact_parts(contact: Contact) -> list[Part]:
    customer: Customer = contact.customer
    followups = FollowUp.objects.filter(
        Q(contact=contact) | Q(customer_id=contact.customer_id, content__contains=contact.name)
    ).order_by("occurred_at", "id")
    tickets = Ticket.objects.filter(
        Q(contact=contact) | (Q(requester_email=contact.email) if contact.email else Q(pk__in=[]))
    ).prefetch_related(
        Prefetch("messages", queryset=TicketMessage.objects.order_by("created_at", "id"))
    )
    ticket_rows = list(tickets.order_by("id"))
    messages = [message for ticket in ticket_rows for message in ticket.messages.all()]
    return [
        _part("subject", _("Contact"), Contact, [contact]),
        _part(
            "customer",
            _("Customer"),
            Customer,
            [customer],
            skip=tuple(
                field.name
                for field in Customer._meta.concrete_fields
                if field.name not in ("id", "number", "name")
            ),
        ),
        _part("followups", _("Follow-ups about the person"), FollowUp, followups),
        _part(
            "sent_emails",
            _("E-mails sent to the person"),
            SentEmail,
            SentEmail.objects.filter(contact=contact).order_by("sent_at", "id"),
        ),
        _part("tickets", _("Tickets the person raised"), Ticket, ticket_rows),
        _part("ticket_messages", _("Messages of those tickets"), TicketMessage, messages),
        *_campaign_parts(Q(contact=contact)),
        _part(
            "reveals",
            _("Number reveals"),
            RevealLog,
            RevealLog.objects.filter(contact=contact).order_by("at", "id"),
            skip=("request_id",),
        ),
        _part(
            "external_ids",
            _("Ids in other systems"),
            ExternalId,
            ExternalId.objects.filter(kind=ExternalKind.CONTACT, object_id=contact.pk).order_by(
                "system"
            ),
            skip=("fingerprint", "seen_version"),
        ),
        _history(contact),
    ]


def _lead_parts(lead: Lead) -> list[Part]:
    lead_type = ContentType.objects.get_for_model(Lead)
    return [
        _part("subject", _("Lead"), Lead, [lead]),
        _part(
            "lead_events",
            _("Events of the lead"),
            LeadEvent,
            LeadEvent.objects.filter(lead=lead).order_by("at", "id"),
        ),
        _part(
            "followups",
            _("Follow-ups about the person"),
            FollowUp,
            FollowUp.objects.filter(related_type=lead_type, related_id=lead.pk).order_by(
                "occurred_at", "id"
            ),
        ),
        *_campaign_parts(Q(lead=lead)),
        _history(lead),
    ]


def _campaign_parts(person: Q) -> list[Part]:
    members = list(CampaignMember.objects.filter(person).select_related("campaign").order_by("id"))
    consents = list(
        Consent.objects.filter(person)
        .prefetch_related(
            Prefetch("changes", queryset=ConsentChange.objects.order_by("changed_at", "id"))
        )
        .order_by("channel")
    )
    changes = [change for consent in consents for change in consent.changes.all()]
    return [
        _part(
            "campaign_memberships",
            _("Campaign memberships"),
            CampaignMember,
            members,
            extra=(("campaign_name", _("Campaign"), lambda m: m.campaign.name),),
        ),
        _part(
            "campaign_messages",
            _("Campaign messages"),
            Message,
            Message.objects.filter(member__in=[m.pk for m in members]).order_by("id"),
        ),
        _part("consents", _("Marketing consent"), Consent, consents),
        _part("consent_changes", _("Consent changes"), ConsentChange, changes),
        _part(
            "touches",
            _("Campaign touches"),
            Touch,
            Touch.objects.filter(person).order_by("at", "id"),
        ),
    ]


def person_data(*, user: Any, request: SubjectRequest) -> list[Part]:
    """Everything Kehu holds about the request's person, section by section."""
    if not requests_may_manage(user):
        raise Forbidden(_("Only administrators handle personal-data requests."))
    subject = subject_of(
        user=user, subject_type=request.subject_type, subject_id=request.subject_id
    )
    if isinstance(subject, Contact):
        return _contact_parts(subject)
    return _lead_parts(subject)


def as_json(request: SubjectRequest, parts: list[Part]) -> dict[str, Any]:
    return {
        "request": {
            "id": request.pk,
            "kind": request.kind,
            "subject_type": request.subject_type,
            "subject_id": request.subject_id,
            "received_on": request.received_on.isoformat(),
            "deadline": request.deadline.isoformat(),
        },
        "generated_at": timezone.localtime().isoformat(timespec="seconds"),
        "sections": {part.key: part.rows for part in parts},
    }


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def as_xlsx(request: SubjectRequest, parts: list[Part]) -> bytes:
    """One sheet per section, its first row the field headings."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    first = workbook.active
    assert first is not None
    first.title = _("Request")[:31]
    first.append([_("Personal-data request"), f"#{request.pk}"])
    first.append(
        [pgettext("personal-data request", "Received on"), request.received_on.isoformat()]
    )
    first.append([_("Answer by"), request.deadline.isoformat()])
    first.append([_("Generated at"), timezone.localtime().isoformat(timespec="seconds")])
    for part in parts:
        sheet = workbook.create_sheet(part.title[:31])
        sheet.append([heading for _name, heading in part.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in part.rows:
            sheet.append([_cell(row.get(name)) for name, _heading in part.columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
