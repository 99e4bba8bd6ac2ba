"""Who may reach each outreach URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The template and the campaign belong to 华东区's manager. Marketing (every template and
campaign), that manager and admins act; 华南区's manager and a rep, who see neither, get 404.
A rep's own campaign is theirs to see, but reps do not send campaigns: 403.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from kehu.campaigns.services import sends
from kehu.campaigns.tests.outreach_support import add_contact_member, make_campaign, make_template
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run

ACT: Roles = {
    "may": ("marketing", "east_manager", "admin"),
    "out_of_scope": ("south_manager", "rep"),
}


def _emails(org: Organisation) -> None:
    for name in ("marketing", "east_manager", "admin", "rep"):
        user = getattr(org, name)
        user.email = f"{name}@example.cn"
        user.save(update_fields=["email"])


def template(org: Organisation) -> dict[str, Any]:
    made = make_template(org.east_manager)
    return {"template_id": made.pk}


def campaign(org: Organisation) -> dict[str, Any]:
    _emails(org)
    made = make_campaign(org.east_manager)
    add_contact_member(made, org.rep, email="wang@example.cn")
    return {"campaign_id": made.pk, "_template_id": make_template(org.east_manager).pk}


def own_campaign(org: Organisation) -> dict[str, Any]:
    _emails(org)
    made = make_campaign(org.rep)
    add_contact_member(made, org.rep, email="wang@example.cn")
    return {"campaign_id": made.pk, "_template_id": make_template(org.marketing).pk}


def send(org: Organisation) -> dict[str, Any]:
    made = campaign(org)
    row = sends.send_create(
        actor=org.east_manager,
        campaign_id=made["campaign_id"],
        template_id=made["_template_id"],
        scheduled_for=timezone.now() + datetime.timedelta(days=1),
    )
    return {"send_id": row.pk}


def send_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"template_id": made["_template_id"]}


def preview_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"campaign_id": campaign(org)["campaign_id"]}


def form_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"template": made["_template_id"]}


TEMPLATE_FORM = {
    "name": "开业邀请",
    "channel": "email",
    "subject": "{{ salutation }}您好",
    "body": "{{ 称呼 }}，{{ company }}",
}

TABLE = [
    # --- API ---
    Endpoint("GET /templates/{template_id}", template, **ACT),
    Endpoint("PATCH /templates/{template_id}", template, body={"name": "新名字"}, **ACT),
    Endpoint("DELETE /templates/{template_id}", template, **ACT),
    Endpoint("POST /templates/{template_id}/preview", template, body=preview_body, **ACT),
    Endpoint("GET /campaigns/{campaign_id}/sends", campaign, **ACT),
    Endpoint("POST /campaigns/{campaign_id}/sends", campaign, body=send_body, status=201, **ACT),
    Endpoint(
        "POST /campaigns/{campaign_id}/sends",
        own_campaign,
        body=send_body,
        may=("admin",),
        may_not=("rep",),
        out_of_scope=("south_manager",),
        status=201,
        label="a rep's own campaign",
    ),
    Endpoint(
        "POST /campaigns/{campaign_id}/test-send", campaign, body=send_body, status=201, **ACT
    ),
    Endpoint("GET /sends/{send_id}", send, **ACT),
    Endpoint("GET /sends/{send_id}/messages", send, **ACT),
    Endpoint("POST /sends/{send_id}/cancel", send, **ACT),
    # --- UI ---
    Endpoint("GET campaigns:template_edit", template, **ACT),
    Endpoint("POST campaigns:template_edit", template, body=TEMPLATE_FORM, **ACT),
    Endpoint("POST campaigns:template_delete", template, **ACT),
    Endpoint("GET campaigns:template_preview", template, **ACT),
    Endpoint("GET campaigns:sends", campaign, **ACT),
    Endpoint("POST campaigns:send_create", campaign, body=form_body, **ACT),
    Endpoint("GET campaigns:send_detail", send, **ACT),
    Endpoint("POST campaigns:send_cancel", send, **ACT),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
