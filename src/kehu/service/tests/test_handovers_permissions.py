"""Who may reach each handover and routing-rule URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The handover belongs to 上海组's rep (east_manager above them); ``service`` is the appointed
specialist once it is submitted, who sees it (contract terms masked) and alone confirms it.
Routing rules are settings of managers and admins, without an owner.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.accounts.models import Role
from kehu.core.testing.deals import win
from kehu.core.testing.factories import Organisation, make_user
from kehu.core.testing.permissions import (
    Endpoint,
    Masked,
    Roles,
    cases,
    check_mask,
    mask_cases,
    run,
)
from kehu.opportunities.tests.factories import make_opportunity
from kehu.service.models import Handover
from kehu.service.services import handovers as services

TERMS = "违约金百分之五"
COMPLETE = {
    "needs": "产线数据采集",
    "service_content": "7×24 电话支持",
    "response_hours": 2,
    "resolution_hours": 24,
    "contract_terms": TERMS,
}
WRITERS = ("rep", "east_manager", "admin")
OTHERS = ("south_rep", "colleague", "marketing")


def draft(org: Organisation) -> dict[str, Any]:
    deal = make_opportunity(org.rep, amount=Decimal("300000"), needs="CRM")
    win(deal, org.rep)
    handover = Handover.objects.get(opportunity=deal)
    handover = services.handover_update(actor=org.rep, handover=handover, data=COMPLETE)
    return {"handover_id": handover.pk, "_handover": handover}


def pending(org: Organisation) -> dict[str, Any]:
    made = draft(org)
    handover = services.handover_submit(
        actor=org.rep, handover=made["_handover"], specialist=org.service
    )
    second = make_user(Role.SERVICE, username="second_agent")
    return {"handover_id": handover.pk, "_handover": handover, "_second": second}


def attachment(org: Organisation) -> dict[str, Any]:
    made = pending(org)
    row = services.handover_attachment_add(
        actor=org.rep, handover=made["_handover"], file=contract_file()
    )
    return {"handover_attachment_id": row.pk}


def routing_rule(org: Organisation) -> dict[str, Any]:
    rule = services.routing_rule_create(
        actor=org.admin, data={"name": "兜底", "target": "handover", "members": [org.service.pk]}
    )
    return {"routing_rule_id": rule.pk, "_rule": rule}


def contract_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("合同.pdf", b"%PDF-1.4 contract", content_type="application/pdf")


def versioned(**fields: Any) -> Any:
    def body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
        return {"version": made["_handover"].version, **fields}

    return body


def submit_api(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"specialist_id": org.service.pk, "version": made["_handover"].version}


def submit_ui(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"specialist": org.service.pk, "version": made["_handover"].version}


def reassign_api(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"specialist_id": made["_second"].pk, "version": made["_handover"].version}


def reassign_ui(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"specialist": made["_second"].pk, "version": made["_handover"].version}


def upload(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"file": contract_file()}


def rule_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "改名",
        "target": "handover",
        "order": 5,
        "strategy": "least_loaded",
        "is_active": "on",
        "members": [org.service.pk],
        "version": made["_rule"].version,
    }


def edit_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {**COMPLETE, "needs": "改", "version": made["_handover"].version}


DRAFT_WRITE: Roles = {"may": WRITERS, "out_of_scope": (*OTHERS, "service")}
PENDING_VIEW: Roles = {"may": (*WRITERS, "service"), "out_of_scope": OTHERS}
PENDING_WRITE: Roles = {"may": WRITERS, "may_not": ("service",), "out_of_scope": OTHERS}
CONFIRM: Roles = {
    "may": ("service",),
    "may_not": ("rep", "east_manager", "admin"),
    "out_of_scope": OTHERS,
}
REASSIGN: Roles = {
    "may": ("east_manager", "admin"),
    "may_not": ("rep", "service"),
    "out_of_scope": OTHERS,
}
RULES: Roles = {"may": ("admin", "east_manager"), "may_not": ("rep", "service"), "out_of_scope": ()}

TABLE = [
    # --- API ---
    Endpoint("GET /handovers/{handover_id}", pending, **PENDING_VIEW),
    Endpoint("PATCH /handovers/{handover_id}", draft, body=versioned(needs="改"), **DRAFT_WRITE),
    Endpoint("POST /handovers/{handover_id}/submit", draft, body=submit_api, **DRAFT_WRITE),
    Endpoint("POST /handovers/{handover_id}/confirm", pending, body={}, **CONFIRM),
    Endpoint("POST /handovers/{handover_id}/cancel", pending, body={}, **PENDING_WRITE),
    Endpoint("POST /handovers/{handover_id}/reassign", pending, body=reassign_api, **REASSIGN),
    Endpoint("GET /handovers/{handover_id}/attachments", pending, **PENDING_VIEW),
    Endpoint(
        "POST /handovers/{handover_id}/attachments",
        pending,
        body=upload,
        multipart=True,
        status=201,
        **PENDING_WRITE,
    ),
    Endpoint("GET /routing-rules/{routing_rule_id}", routing_rule, **RULES),
    Endpoint(
        "PATCH /routing-rules/{routing_rule_id}",
        routing_rule,
        body=lambda org, made: {"version": made["_rule"].version, "order": 3},
        **RULES,
    ),
    Endpoint("DELETE /routing-rules/{routing_rule_id}", routing_rule, **RULES),
    # --- UI ---
    Endpoint("GET service:handover_detail", pending, **PENDING_VIEW),
    Endpoint("GET service:handover_edit", draft, **DRAFT_WRITE),
    Endpoint("POST service:handover_edit", draft, body=edit_form, **DRAFT_WRITE),
    Endpoint("POST service:handover_submit", draft, body=submit_ui, **DRAFT_WRITE),
    Endpoint("POST service:handover_confirm", pending, body=versioned(), **CONFIRM),
    Endpoint("POST service:handover_cancel", pending, body=versioned(), **PENDING_WRITE),
    Endpoint("POST service:handover_reassign", pending, body=reassign_ui, **REASSIGN),
    Endpoint("POST service:handover_attachment_add", pending, body=upload, **PENDING_WRITE),
    Endpoint("GET service:handover_attachment", attachment, **PENDING_VIEW),
    Endpoint("GET service:routing_rule_edit", routing_rule, **RULES),
    Endpoint("POST service:routing_rule_edit", routing_rule, body=rule_form, **RULES),
    Endpoint("POST service:routing_rule_delete", routing_rule, **RULES),
]

MASKS = [
    Masked("GET /handovers/{handover_id}", pending, "rep", shows={"contract_terms": TERMS}),
    Masked(
        "GET /handovers/{handover_id}",
        pending,
        "service",
        shows={"contract_terms": None, "needs": COMPLETE["needs"]},
        hides=(TERMS,),
    ),
    Masked("GET service:handover_detail", pending, "service", hides=(TERMS,)),
    Masked("GET service:handover_detail", pending, "east_manager", shows={TERMS: True}),
]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)


@pytest.mark.parametrize("mask", mask_cases(MASKS))
def test_masked(mask: Masked, org: Organisation) -> None:
    check_mask(mask, org)
