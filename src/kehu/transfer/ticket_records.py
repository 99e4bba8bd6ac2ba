"""Import of service tickets (服务工单) for customers already in Kehu: the pipeline of the other
record kinds (read, map, clean, batches with a resume point, progress, cancel, reports), each
row written through the service app's own services.

A row becomes a ticket through ``service.services.tickets.ticket_create`` (scope, numbering,
routing and the customer's specialist when no one is named, the SLA clock from the creation
time, the first message, history, events and webhooks, the assignee's notification), then,
for a status past 新建/已分配, ``ticket_set_status`` (the status flow's rules; a resolved or
closed ticket with its resolution time as ``at``, so its SLA figures and event are history).
Duplicates are the same customer, subject (case ignored) and creation day — the tickets app
has no rule of its own; an update goes through ``ticket_update``, ``ticket_assign`` and
``ticket_set_status``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core.errors import InvalidInput, NotFound
from kehu.customers.models import Contact
from kehu.service.models import Ticket, TicketChannel, TicketStatus
from kehu.service.services import tickets as ticket_services
from kehu.transfer.cleaning import RowResult
from kehu.transfer.engine import importer as engine_importer
from kehu.transfer.records import CustomerRecordImporter, _refusal_in

TICKET_DATA = ("subject", "content", "ticket_type", "priority", "product", "raised_at")
UPDATE_DATA = ("content", "ticket_type", "priority", "product")
CLOSING = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
# 新建 and 已分配 are what creation makes of a ticket (assigned when someone is responsible)
AS_CREATED = (TicketStatus.NEW, TicketStatus.ASSIGNED)


class TicketImporter(CustomerRecordImporter):
    """Service tickets; a duplicate is the same customer, subject and creation day (today for
    a row without a creation time, as the ticket is then raised today)."""

    error_fields = {"at": "resolved_at"}  # ticket_set_status's moment is the resolution time
    identity_field = "customer"
    fallback_field = "subject"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.model = Ticket
        super().__init__(*args, **kwargs)
        self.contacts: dict[int, Contact] = {}
        self.today = timezone.localdate()

    # --- planning -----------------------------------------------------------------------------
    def _resolve(self, rows: list[RowResult]) -> None:
        super()._resolve(rows)
        wanted = {
            value
            for row in rows
            if (value := row.values.get("assignee")) and value not in self.users
        }
        if wanted:
            self.users.update(User.objects.in_bulk(wanted))
        self._resolve_contacts(rows)
        ids = {row.values["contact_id"] for row in rows if row.values.get("contact_id")}
        if ids - set(self.contacts):
            self.contacts.update(Contact.objects.in_bulk(ids - set(self.contacts)))
        for row in rows:
            status = row.values.get("status")
            if row.values.get("resolved_at") and status not in CLOSING:
                row.errors.append(
                    (
                        self.header("resolved_at"),
                        _("a resolution time needs the status resolved or closed."),
                    )
                )

    def _day(self, values: dict[str, Any]) -> date:
        raised = values.get("raised_at")
        return timezone.localdate(raised) if raised else self.today

    def _key(self, customer_id: int, day: date, subject: str) -> str:
        return f"t:{customer_id}:{day.isoformat()}:{subject.casefold()}"

    def _keys(self, row: RowResult) -> list[str]:
        values = row.values
        return [self._key(values["customer_id"], self._day(values), str(values["subject"]))]

    def _existing(self, rows: list[RowResult]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = defaultdict(set)
        if not rows:
            return found
        days = [self._day(row.values) for row in rows]
        start = timezone.make_aware(datetime.combine(min(days), time()))
        stop = timezone.make_aware(datetime.combine(max(days) + timedelta(days=1), time()))
        matches = Ticket.objects.filter(
            customer_id__in={row.values["customer_id"] for row in rows},
            subject__in={row.values["subject"] for row in rows},
            raised_at__gte=start,
            raised_at__lt=stop,
        ).values_list("pk", "customer_id", "subject", "raised_at")
        for pk, customer_id, subject, raised in matches:
            found[self._key(customer_id, timezone.localdate(raised), subject)].add(pk)
        return found

    def _describe(self, row: RowResult) -> str:
        return f"{row.values['customer']} · {row.values['subject']}"

    # --- writing ------------------------------------------------------------------------------
    def _create(self, values: dict[str, Any]) -> int:
        data: dict[str, Any] = {key: values[key] for key in TICKET_DATA if key in values}
        assignee = self._user(values, "assignee")
        if assignee is not None:
            data["assignee"] = assignee
        # always given, so the service holds the row to the required custom fields
        data["custom"] = engine_importer.custom_values(values)
        contact_id = values.get("contact_id")
        ticket = ticket_services.ticket_create(
            actor=self.actor,
            data=data,
            channel=values.get("channel") or TicketChannel.UI,
            customer=self.customers[values["customer_id"]],
            contact=self.contacts.get(contact_id) if contact_id else None,
        )
        if values.get("status") == TicketStatus.ASSIGNED and ticket.assignee_id is None:
            raise InvalidInput(
                errors={
                    "status": [
                        _(
                            "no one is responsible for the ticket, so it cannot be assigned; "
                            "name the person responsible or leave the status empty."
                        )
                    ]
                }
            )
        self._move(ticket, values)
        return int(ticket.pk)

    def _update(self, values: dict[str, Any], target: int) -> int:
        ticket = Ticket.objects.filter(pk=target).first()
        if ticket is None:
            raise NotFound("ticket")
        data: dict[str, Any] = {key: values[key] for key in UPDATE_DATA if key in values}
        custom = engine_importer.custom_values(values)
        if custom:  # only the columns the file fills; the others keep their values
            data["custom"] = custom
        ticket = ticket_services.ticket_update(actor=self.actor, ticket=ticket, data=data)
        assignee = self._user(values, "assignee")
        if assignee is not None and ticket.assignee_id != assignee.pk:
            with _refusal_in("assignee"):
                ticket = ticket_services.ticket_assign(
                    actor=self.actor, ticket=ticket, assignee=assignee
                )
        self._move(ticket, values)
        return int(ticket.pk)

    def _move(self, ticket: Ticket, values: dict[str, Any]) -> None:
        """The row's status through the status flow (``ticket_set_status``): a resolved or
        closed ticket at its resolution time (else now), 处理中 and 等待客户 from now on."""
        status = values.get("status")
        if not status or status in AS_CREATED or status == ticket.status:
            return
        at = values.get("resolved_at") if status in CLOSING else None
        with _refusal_in("status"):
            try:
                ticket_services.ticket_set_status(
                    actor=self.actor, ticket=ticket, status=status, at=at, reason=self.reason
                )
            except NotFound as error:  # the ticket is not the importing user's to handle
                raise InvalidInput(
                    errors={
                        "status": [
                            _(
                                "you may not change the status of a ticket you do not handle; "
                                "leave the column empty."
                            )
                        ]
                    }
                ) from error
