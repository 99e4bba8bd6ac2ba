"""Reads of the e-mail and web-form intake: mailboxes and public ticket forms (admins)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from kehu.service.models import InboundEmail, Mailbox, TicketWebForm


def mailbox_list() -> QuerySet[Mailbox]:
    return Mailbox.objects.select_related("department").annotate(email_count=Count("emails"))


def ticket_form_list() -> QuerySet[TicketWebForm]:
    return TicketWebForm.objects.select_related("department")


def public_ticket_form(slug: str) -> TicketWebForm | None:
    """The active form at this address, for the public page (None: 404)."""
    return TicketWebForm.objects.filter(slug=str(slug)[:50], is_active=True).first()


def recent_emails(mailbox: Mailbox, limit: int = 20) -> list[InboundEmail]:
    """The last e-mails read from a mailbox, with the ticket each made or joined."""
    return list(
        InboundEmail.objects.filter(mailbox=mailbox)
        .select_related("ticket")
        .only("sender", "subject", "received_at", "is_reply", "ticket__number", "mailbox_id")
        .order_by("-id")[:limit]
    )
