"""Who may reach each consent URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The contact belongs to a customer of 上海组's rep: the rep, their manager, admins and
marketing (which reads every customer) see it and record its consent; another team's rep and
manager, a colleague the customer is not shared with and service get 404. The bulk API and
the upload answer per row (a person out of scope is that row's error, tested in
``test_consent_api``), so they have no out-of-scope case here. The public unsubscribe page
(``campaigns:unsubscribe``) takes a signed token, not an id: ``test_consent_partition``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.campaigns.tests.consent_support import make_contact
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run

SEES: Roles = {
    "may": ("rep", "east_manager", "admin", "marketing"),
    "out_of_scope": ("south_rep", "south_manager", "colleague", "service"),
}
ANYONE: Roles = {"may": ("rep", "marketing", "admin"), "out_of_scope": ()}


def contact(org: Organisation) -> dict[str, Any]:
    made = make_contact(org)
    return {"contact_id": made.pk, "_email": made.email}


def nothing(org: Organisation) -> dict[str, Any]:
    return contact(org)


def person(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"contact": made["contact_id"]}


def grant(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"channel": "email", "status": "granted", "note": "电话里同意"}


def bulk(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"items": [{"email": made["_email"], "channel": "email", "status": "granted"}]}


def upload(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    text = f"email,channel,status\n{made['_email']},email,granted\n".encode()
    return {"file": SimpleUploadedFile("consent.csv", text, "text/csv"), "source": "import"}


TABLE = [
    # --- API ---
    Endpoint("GET /consents", contact, body=person, **SEES),
    Endpoint("POST /consents", nothing, body=bulk, **ANYONE),
    Endpoint("POST /consents/import", nothing, body=upload, multipart=True, **ANYONE),
    # --- UI ---
    Endpoint("POST campaigns:consent_record", contact, body=grant, **SEES),
    Endpoint("GET campaigns:consent_import", lambda org: {}, **ANYONE),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
