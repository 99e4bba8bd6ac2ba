"""Who may reach each contract URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The deal belongs to 上海组's rep; east_manager (华东区) is the rep's manager and reviews; the
admin reviews too. ``colleague`` (same team) does not see the rep's deals; ``south_rep`` is
another team's rep.
"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.contracts.models import Contract
from kehu.contracts.services import contracts as services
from kehu.contracts.tests.support import approved_contract, contract_file, draft_contract
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import (
    Endpoint,
    Masked,
    Roles,
    cases,
    check_mask,
    mask_cases,
    run,
)
from kehu.opportunities import services as deals
from kehu.opportunities.tests.factories import ready_for_proposal

AMOUNT = "876543"
WRITERS = ("rep", "east_manager", "admin")
OTHERS = ("south_rep", "colleague")


def deal(org: Organisation) -> dict[str, Any]:
    made = ready_for_proposal(org.rep)
    made = deals.opportunity_move_stage(actor=org.rep, opportunity=made, stage="proposal")
    made = deals.opportunity_move_stage(actor=org.rep, opportunity=made, stage="negotiation")
    return {"opportunity_id": made.pk, "_deal": made}


def draft(org: Organisation) -> dict[str, Any]:
    made = deal(org)
    contract = draft_contract(made["_deal"], amount=AMOUNT)
    return {"contract_id": contract.pk, "_contract": contract}


def in_review(org: Organisation) -> dict[str, Any]:
    made = draft(org)
    contract = services.contract_submit(actor=org.rep, contract=made["_contract"])
    return {"contract_id": contract.pk, "_contract": contract}


def approved(org: Organisation) -> dict[str, Any]:
    contract = approved_contract(deal(org)["_deal"], amount=AMOUNT)
    return {"contract_id": contract.pk, "_contract": contract}


def versioned(**fields: Any) -> Any:
    def body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
        contract: Contract = made["_contract"]
        return {"version": contract.version, **fields}

    return body


def upload(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"file": contract_file()}


def edit_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    contract: Contract = made["_contract"]
    return {
        "title": "改过的合同",
        "amount": AMOUNT,
        "currency": "CNY",
        "version": contract.version,
    }


def new_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"title": "新合同", "amount": "1000", "currency": "CNY", "file": contract_file()}


VIEW: Roles = {"may": WRITERS, "out_of_scope": OTHERS}
WRITE: Roles = {"may": WRITERS, "out_of_scope": OTHERS}
REVIEW: Roles = {"may": ("east_manager", "admin"), "may_not": ("rep",), "out_of_scope": OTHERS}

TABLE = [
    # --- API ---
    Endpoint("GET /contracts/{contract_id}", in_review, **VIEW),
    Endpoint("PATCH /contracts/{contract_id}", draft, body=versioned(title="改"), **WRITE),
    Endpoint("POST /contracts/{contract_id}/file", draft, body=upload, multipart=True, **WRITE),
    Endpoint("GET /contracts/{contract_id}/file", draft, **VIEW),
    Endpoint("POST /contracts/{contract_id}/submit", draft, body=versioned(), **WRITE),
    Endpoint("POST /contracts/{contract_id}/approve", in_review, body={}, **REVIEW),
    Endpoint(
        "POST /contracts/{contract_id}/return",
        in_review,
        body={"comment": "金额与报价不一致"},
        **REVIEW,
    ),
    Endpoint("POST /contracts/{contract_id}/void", approved, body={"reason": "重签"}, **WRITE),
    # --- UI ---
    Endpoint("GET contracts:contract_detail", in_review, **VIEW),
    Endpoint("GET contracts:contract_new", deal, **WRITE),
    Endpoint("POST contracts:contract_new", deal, body=new_form, **WRITE),
    Endpoint("GET contracts:contract_edit", draft, **WRITE),
    Endpoint("POST contracts:contract_edit", draft, body=edit_form, **WRITE),
    Endpoint("POST contracts:contract_submit", draft, body=versioned(), **WRITE),
    Endpoint("POST contracts:contract_approve", in_review, body=versioned(), **REVIEW),
    Endpoint(
        "POST contracts:contract_return",
        in_review,
        body=versioned(comment="请补充验收条款"),
        **REVIEW,
    ),
    Endpoint("POST contracts:contract_void", approved, body=versioned(reason="重签"), **WRITE),
    Endpoint("GET contracts:contract_file", draft, **VIEW),
]

MASKS = [
    Masked("GET /contracts/{contract_id}", in_review, "rep", shows={"amount": 876543.0}),
    Masked("GET contracts:contract_detail", in_review, "east_manager", shows={"876,543": True}),
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
