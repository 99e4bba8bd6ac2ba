"""E-mail to ticket: inbound mailboxes polled over IMAP, and their management.

``mailbox_poll`` reads the messages that arrived since the last poll by UID (a new UIDVALIDITY
means the server renumbered the folder: reading restarts from the first message, and the
``InboundEmail`` row per (mailbox, Message-ID) keeps every message from being read twice).
Each message becomes either a line in the thread of the ticket it answers, or a new ticket:
the customer is found by the sender's address among the contacts; an unknown sender's ticket
has no customer (the triage queue); an answer to a closed ticket opens a new one naming the
old number. A message is stored with the UID bookmark in one transaction, so a crash re-reads
it and nothing is lost. A connection or login failure is kept on the mailbox (``last_error``)
and logged; it never breaks the periodic job.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
import socket
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, User
from kehu.core import audit
from kehu.core.access import is_admin
from kehu.core.errors import Conflict, Forbidden, InvalidInput
from kehu.core.services import validate
from kehu.customers.models import Contact
from kehu.service.models import (
    InboundEmail,
    Mailbox,
    Ticket,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from kehu.service.selectors import tickets as ticket_selectors
from kehu.service.services import tickets
from kehu.service.services.mail_parse import MAX_SUBJECT, ParsedEmail, parse_email

logger = logging.getLogger(__name__)

TIMEOUT = 30  # seconds for connecting and for each IMAP command
BATCH = 200  # messages read per poll; the rest follow at the next poll
MAX_FETCH = 5 * 1024 * 1024  # bytes of one message read
UID_RANGE = re.compile(rb"UIDVALIDITY (\d+)")
TICKET_TAG = re.compile(r"\[T\d{6,}\]\s*")


@dataclass
class PollResult:
    """What one poll did: messages read, tickets made, replies threaded, duplicates skipped."""

    fetched: int = 0
    created: int = 0
    replies: int = 0
    skipped: int = 0
    error: str = ""
    ticket_ids: list[int] = field(default_factory=list)


class MailboxError(Exception):
    """The mailbox could not be read; the message says why, for the admin."""


# --- Talking to the server -------------------------------------------------------------------


def _connect(mailbox: Mailbox) -> imaplib.IMAP4:
    where = f"{mailbox.host}:{mailbox.port}"
    try:
        if mailbox.use_ssl:
            context = ssl.create_default_context()
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                mailbox.host, mailbox.port, ssl_context=context, timeout=TIMEOUT
            )
        else:
            conn = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TIMEOUT)
    except ssl.SSLError as error:
        raise MailboxError(
            _("The secure connection to %(where)s failed: %(error)s")
            % {"where": where, "error": error.reason or error}
        ) from error
    except (OSError, imaplib.IMAP4.error) as error:
        raise MailboxError(
            _("Could not connect to %(where)s: %(error)s") % {"where": where, "error": error}
        ) from error
    try:
        conn.login(mailbox.username, mailbox.password)
    except imaplib.IMAP4.error as error:
        _logout(conn)
        raise MailboxError(_("The server refused the user name or password.")) from error
    except OSError as error:
        _logout(conn)
        raise MailboxError(
            _("Could not connect to %(where)s: %(error)s") % {"where": where, "error": error}
        ) from error
    return conn


def _logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.logout()


def imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3): "工单" is "&XeVTVQ-"."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _select(conn: imaplib.IMAP4, folder: str) -> int:
    """Open the folder read-only (messages keep their flags); its UIDVALIDITY."""
    encoded = imap_utf7(folder)
    quoted = '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'
    typ, _data = conn.select(quoted, readonly=True)
    if typ != "OK":
        raise MailboxError(_("The folder %(folder)s does not exist.") % {"folder": folder})
    _typ, values = conn.response("UIDVALIDITY")
    for value in values or []:
        if isinstance(value, bytes) and value.strip().isdigit():
            return int(value)
    typ, status = conn.status(quoted, "(UIDVALIDITY)")
    match = UID_RANGE.search(status[0] if status and isinstance(status[0], bytes) else b"")
    if typ != "OK" or match is None:
        raise MailboxError(_("The server did not tell the folder's UIDVALIDITY."))
    return int(match.group(1))


def _new_uids(conn: imaplib.IMAP4, after: int) -> list[int]:
    typ, data = conn.uid("SEARCH", "UID", f"{after + 1}:*")
    if typ != "OK":
        raise MailboxError(_("The server refused to list the messages."))
    found = {int(uid) for uid in (data[0] or b"").split() if uid.isdigit()}
    # "n:*" always matches the last message, even when its UID is below n.
    return sorted(uid for uid in found if uid > after)


def _fetch(conn: imaplib.IMAP4, uid: int) -> bytes | None:
    # At most the first MAX_FETCH bytes: the text comes before the attachments, and a 50 MB
    # message must not sit in memory whole (its tail is lost, its text is not).
    typ, data = conn.uid("FETCH", str(uid), f"(BODY.PEEK[]<0.{MAX_FETCH}>)")
    if typ != "OK":
        raise MailboxError(_("The server refused to send message %(uid)d.") % {"uid": uid})
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None  # expunged meanwhile


# --- Turning a message into a ticket ---------------------------------------------------------


def contact_for_address(address: str) -> Contact | None:
    """The contact with this address, when it names exactly one customer (else triage)."""
    if not address:
        return None
    contacts = list(
        Contact.objects.filter(email__iexact=address)
        .select_related("customer")
        .order_by("-is_active", "-is_primary", "id")[:10]
    )
    customers = {contact.customer_id for contact in contacts}
    return contacts[0] if len(customers) == 1 else None


def _new_ticket(mailbox: Mailbox, email: ParsedEmail, *, closed: Ticket | None = None) -> Ticket:
    contact = contact_for_address(email.sender)
    subject = email.subject or _("(no subject)")
    content = email.body or _("(The e-mail has no text.)")
    if closed is not None:
        subject = TICKET_TAG.sub("", subject).strip() or closed.subject
        note = _("This e-mail answers ticket %(number)s, which is closed; a new ticket was opened.")
        content = f"{note % {'number': closed.number}}\n\n{content}"
    data: dict[str, Any] = {
        "subject": subject[:MAX_SUBJECT],
        "content": content[:20000],
        "ticket_type": TicketType.CONSULTATION,
        "priority": TicketPriority.MEDIUM,
        "product": "",
    }
    now = timezone.now()
    if email.date is not None and now - timedelta(days=30) <= email.date <= now:
        data["raised_at"] = email.date
    customer = contact.customer if contact else None
    if closed is not None and customer is None:
        # The closed ticket's customer (perhaps linked by hand from triage) follows its answer.
        customer, contact = closed.customer, closed.contact
    return tickets.ticket_create(
        actor=None,
        data=data,
        channel=TicketChannel.EMAIL,
        customer=customer,
        contact=contact,
        requester_name=email.sender_name or (contact.name if contact else ""),
        requester_email=email.sender,
        email_message_id=email.message_id,
        department=mailbox.department,
    )


def _store(mailbox: Mailbox, email: ParsedEmail, result: PollResult) -> None:
    """Thread or open a ticket for one message, once (the caller holds the transaction)."""
    try:
        with transaction.atomic():
            record = InboundEmail.objects.create(
                mailbox=mailbox,
                message_id=email.message_id,
                sender=email.sender,
                subject=email.subject[:500],
            )
    except IntegrityError:
        result.skipped += 1
        return
    own = {mailbox.address.lower(), mailbox.username.lower()}
    if email.sender in own or email.auto_submitted:
        # Our own mail and auto-replies (out of office) are kept but make no ticket, so that
        # two robots cannot keep answering each other.
        result.skipped += 1
        return
    # A reply by its headers, or any message naming a ticket number in its subject.
    ticket = ticket_selectors.ticket_for_email(
        in_reply_to=email.in_reply_to, references=email.references, subject=email.subject
    )
    closed = None
    if ticket is not None and ticket.status != TicketStatus.CLOSED:
        try:
            tickets.ticket_add_inbound(
                ticket=ticket,
                sender=email.sender,
                body=email.body or _("(The e-mail has no text.)"),
                email_message_id=email.message_id,
            )
        except Conflict as error:
            if error.code != "ticket_closed":
                raise
            closed = ticket
        else:
            record.ticket = ticket
            record.is_reply = True
            record.save(update_fields=["ticket", "is_reply"])
            result.replies += 1
            result.ticket_ids.append(ticket.pk)
            return
    elif ticket is not None:
        closed = ticket
    created = _new_ticket(mailbox, email, closed=closed)
    record.ticket = created
    record.save(update_fields=["ticket"])
    result.created += 1
    result.ticket_ids.append(created.pk)


def _fail(mailbox: Mailbox, message: str) -> None:
    logger.warning("mailbox %s (%s): %s", mailbox.pk, mailbox.name, message)
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_error=message[:500], last_polled_at=timezone.now()
    )
    mailbox.last_error = message[:500]


def mailbox_poll(mailbox: Mailbox) -> PollResult:
    """Read the mailbox's new messages into tickets; never raises for a server problem."""

    result = PollResult()
    try:
        conn = _connect(mailbox)
    except MailboxError as error:
        result.error = str(error)
        _fail(mailbox, result.error)
        return result
    try:
        validity = _select(conn, mailbox.folder)
        if mailbox.uid_validity != validity:
            # A new folder, or the server renumbered it: start again from the first message;
            # the messages read before are recognised by their Message-ID.
            mailbox.uid_validity = validity
            mailbox.last_uid = 0
            Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=validity, last_uid=0)
        for uid in _new_uids(conn, mailbox.last_uid)[:BATCH]:
            raw = _fetch(conn, uid)
            with transaction.atomic():
                if raw is not None:
                    result.fetched += 1
                    _store(mailbox, parse_email(raw), result)
                Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=uid)
            mailbox.last_uid = uid
    except MailboxError as error:
        result.error = str(error)
    except (OSError, imaplib.IMAP4.error) as error:
        result.error = _("The connection to the server failed: %(error)s") % {"error": error}
    except (InvalidInput, Conflict) as error:
        # A message the ticket rules refused: it stays unread here and is tried again.
        result.error = _("A message could not be stored: %(error)s") % {"error": error.detail}
    finally:
        _logout(conn)
    if result.error:
        _fail(mailbox, result.error)
    else:
        mailbox.last_error = ""
        mailbox.last_polled_at = timezone.now()
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_error="", last_polled_at=mailbox.last_polled_at
        )
    logger.info(
        "mailbox %s polled: %s read, %s new tickets, %s replies, %s skipped",
        mailbox.pk, result.fetched, result.created, result.replies, result.skipped,
    )  # fmt: skip
    return result


def poll_active_mailboxes() -> dict[str, int]:
    """Every active mailbox, one after the other (the periodic job's body)."""

    totals = {"mailboxes": 0, "created": 0, "replies": 0, "failed": 0}
    for mailbox in Mailbox.objects.filter(is_active=True).order_by("id"):
        try:
            result = mailbox_poll(mailbox)
        except Exception:
            logger.exception("mailbox %s: polling failed", mailbox.pk)
            _fail(mailbox, _("Polling failed unexpectedly; see the server log."))
            totals["failed"] += 1
            continue
        totals["mailboxes"] += 1
        totals["created"] += result.created
        totals["replies"] += result.replies
        totals["failed"] += bool(result.error)
    return totals


def mailbox_test(mailbox: Mailbox) -> tuple[bool, str]:
    """Connect, log in and open the folder: (worked, what the admin is told)."""

    try:
        conn = _connect(mailbox)
    except MailboxError as error:
        return False, str(error)
    try:
        _select(conn, mailbox.folder)
        typ, data = conn.uid("SEARCH", "ALL")
        count = len((data[0] or b"").split()) if typ == "OK" else 0
    except MailboxError as error:
        return False, str(error)
    except (OSError, imaplib.IMAP4.error) as error:
        return False, _("The connection to the server failed: %(error)s") % {"error": error}
    finally:
        _logout(conn)
    return True, _("Connected; the folder %(folder)s holds %(count)d messages.") % {
        "folder": mailbox.folder,
        "count": count,
    }


# --- Managing mailboxes (admins) -------------------------------------------------------------

HOST = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
FIELDS = ("name", "host", "port", "use_ssl", "username", "password", "folder", "address")


def mailboxes_may_manage(user: User) -> bool:
    """Inbound mailboxes hold server passwords: admins only."""
    return is_admin(user)


def _check_admin(actor: User) -> None:
    if not mailboxes_may_manage(actor):
        raise Forbidden(_("Only admins manage the inbound mailboxes."))


def _valid_host(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return bool(HOST.match(host)) and not host.replace(".", "").isdigit()
    return True


def _apply(mailbox: Mailbox, data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    for name in FIELDS:
        if name in data and data[name] is not None:
            value = data[name]
            setattr(mailbox, name, value.strip() if isinstance(value, str) else value)
    if "is_active" in data and data["is_active"] is not None:
        mailbox.is_active = bool(data["is_active"])
    if "department" in data:
        department = data["department"]
        if department in (None, ""):
            mailbox.department = None
        elif isinstance(department, Department):
            mailbox.department = department
        else:
            found = Department.objects.filter(pk=department).first()
            if found is None:
                errors["department"] = [_("No such department.")]
            mailbox.department = found
    if mailbox.host and not _valid_host(mailbox.host):
        errors["host"] = [_("Enter a host name or an IP address, without a scheme or a port.")]
    if not isinstance(mailbox.port, int) or not 1 <= mailbox.port <= 65535:
        errors["port"] = [_("Enter a port between 1 and 65535.")]
    if not mailbox.password:
        errors["password"] = [_("This field is required.")]
    if errors:
        raise InvalidInput(errors=errors)
    validate(mailbox, exclude=["department"])


@audit.audited("service.mailbox_created")
@transaction.atomic
def mailbox_create(*, actor: User, data: dict[str, Any]) -> Mailbox:
    _check_admin(actor)
    mailbox = Mailbox()
    _apply(mailbox, data)
    mailbox.save()
    return mailbox


@audit.audited("service.mailbox_changed", target="mailbox")
@transaction.atomic
def mailbox_update(*, actor: User, mailbox: Mailbox, data: dict[str, Any]) -> Mailbox:
    """Change a mailbox; an empty password keeps the stored one (it is never shown)."""
    _check_admin(actor)
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    data = dict(data)
    if not data.get("password"):
        data.pop("password", None)
    moved = any(
        name in data and data[name] != getattr(mailbox, name)
        for name in ("host", "port", "username", "folder")
    )
    _apply(mailbox, data)
    if moved:
        # Another folder or server: its UIDs mean nothing here; Message-IDs prevent duplicates.
        mailbox.uid_validity = None
        mailbox.last_uid = 0
    mailbox.save()
    return mailbox


@audit.audited("service.mailbox_deleted", target="mailbox")
@transaction.atomic
def mailbox_delete(*, actor: User, mailbox: Mailbox) -> None:
    _check_admin(actor)
    mailbox.delete()
