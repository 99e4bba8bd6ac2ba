"""Who may reach each mailbox and ticket-form URL and API operation: admin settings only
(the three-way table of ``kehu.core.testing.permissions``; these have no owner, so no
out-of-scope actor)."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.service.models import Mailbox, TicketWebForm

ADMIN: Roles = {
    "may": ("admin",),
    "may_not": ("rep", "east_manager", "service", "marketing"),
    "out_of_scope": (),
}


def mailbox(org: Organisation) -> dict[str, Any]:
    # Port 1 of the loopback refuses at once: "test" and "poll" answer with the error.
    row = Mailbox.objects.create(
        name="售后邮箱", host="127.0.0.1", port=1, use_ssl=False, username="u",
        password="p", address="support@kehu.test",
    )  # fmt: skip
    return {"mailbox_id": row.pk}


def ticket_form(org: Organisation) -> dict[str, Any]:
    row = TicketWebForm.objects.create(name="报修", slug="repair")
    return {"ticket_form_id": row.pk}


MAILBOX_FORM = {
    "action": "save", "name": "改名", "host": "imap.example.cn", "port": 993, "use_ssl": "on",
    "username": "u", "password": "", "folder": "INBOX", "address": "support@kehu.test",
    "is_active": "on",
}  # fmt: skip
TICKET_FORM = {"name": "改名", "slug": "repair", "default_type": "support", "is_active": "on"}

TABLE = [
    # --- API ---
    Endpoint("GET /mailboxes/{mailbox_id}", mailbox, **ADMIN),
    Endpoint("PATCH /mailboxes/{mailbox_id}", mailbox, body={"name": "改名"}, **ADMIN),
    Endpoint("DELETE /mailboxes/{mailbox_id}", mailbox, **ADMIN),
    Endpoint("POST /mailboxes/{mailbox_id}/test", mailbox, body={}, **ADMIN),
    Endpoint("POST /mailboxes/{mailbox_id}/poll", mailbox, body={}, **ADMIN),
    Endpoint("GET /ticket-forms/{ticket_form_id}", ticket_form, **ADMIN),
    Endpoint("PATCH /ticket-forms/{ticket_form_id}", ticket_form, body={"name": "改名"}, **ADMIN),
    Endpoint("DELETE /ticket-forms/{ticket_form_id}", ticket_form, **ADMIN),
    # --- UI ---
    Endpoint("GET service:mailbox", mailbox, **ADMIN),
    Endpoint("POST service:mailbox", mailbox, body=MAILBOX_FORM, **ADMIN),
    Endpoint("GET service:ticket_form", ticket_form, **ADMIN),
    Endpoint("POST service:ticket_form", ticket_form, body=TICKET_FORM, **ADMIN),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
