"""Reads of the e-mail and web-form intake: mailboxes and public ticket forms (admins)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from kehu.service.models import Mailbox, TicketWebForm


def mailbox_list() -> QuerySet[Mailbox]:
    return Mailbox.objects.select_related("department").annotate(email_count=Count("emails"))


def ticket_form_list() -> QuerySet[TicketWebForm]:
    return TicketWebForm.objects.select_related("department")


def public_ticket_form(slug: str) -> TicketWebForm | None:
    """The active form at this address, for the public page (None: 404)."""
    return TicketWebForm.objects.filter(slug=str(slug)[:50], is_active=True).first()
