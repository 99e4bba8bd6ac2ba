"""Who may reach each opportunity, attachment and pipeline setting URL and API operation (the
three-way table of ``kehu.core.testing.permissions``).

The opportunity belongs to 上海组's rep; its customer is shared read-write with the rep's
colleague, who therefore works on the deal without seeing its amount. Stages, workflow rules
and loss reasons are administration pages without an owner.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kehu.core.testing.deals import prepare
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
from kehu.customers import services as customer_services
from kehu.opportunities import services
from kehu.opportunities.models import LossReason, Stage, WorkflowRule
from kehu.opportunities.tests.factories import make_customer, make_opportunity, proposal_file

VIEWERS = ("rep", "colleague", "east_manager")
OTHERS = ("south_rep", "marketing")
WRITERS = VIEWERS
ADMIN_ONLY: Roles = {"may": ("admin",), "may_not": ("rep", "east_manager"), "out_of_scope": ()}


def opportunity(org: Organisation) -> dict[str, Any]:
    customer = make_customer(org.rep)
    customer_services.customer_share(
        actor=org.rep, customer=customer, user=org.colleague, can_edit=True
    )
    row = make_opportunity(
        org.rep, customer, amount=Decimal("880000"), needs="CRM 系统", next_step="报价"
    )
    return {"opportunity_id": row.pk, "_opportunity": row}


def winnable(org: Organisation) -> dict[str, Any]:
    """The deal with what winning it requires (each stage's criteria) already met."""
    made = opportunity(org)
    prepare(made["_opportunity"], "won", org.rep)
    return made


def attachment(org: Organisation) -> dict[str, Any]:
    made = opportunity(org)
    row = services.attachment_add(
        actor=org.rep, opportunity=made["_opportunity"], kind="proposal", file=proposal_file()
    )
    return {"attachment_id": row.pk}


def stage(org: Organisation) -> dict[str, Any]:
    return {"stage_id": Stage.objects.get(code="proposal").pk}


def workflow_rule(org: Organisation) -> dict[str, Any]:
    return {"rule_id": WorkflowRule.objects.order_by("pk").first().pk}  # type: ignore[union-attr]


def loss_reason(org: Organisation) -> dict[str, Any]:
    return {"reason_id": LossReason.objects.order_by("pk").first().pk}  # type: ignore[union-attr]


def versioned(**fields: Any) -> Any:
    def body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
        return {"version": made["_opportunity"].version, **fields}

    return body


def lose_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"reason": LossReason.objects.order_by("pk").first().pk}  # type: ignore[union-attr]


def upload(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "proposal", "file": proposal_file()}


WRITE: Roles = {"may": WRITERS, "out_of_scope": OTHERS}

TABLE = [
    # --- API ---
    Endpoint("GET /opportunities/{opportunity_id}", opportunity, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint(
        "PATCH /opportunities/{opportunity_id}", opportunity, body=versioned(needs="改"), **WRITE
    ),
    Endpoint(
        "DELETE /opportunities/{opportunity_id}",
        opportunity,
        may=("east_manager", "admin"),
        may_not=("rep", "colleague"),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST /opportunities/{opportunity_id}/stage",
        opportunity,
        body={"stage": "needs_analysis"},
        **WRITE,
    ),
    Endpoint("POST /opportunities/{opportunity_id}/win", winnable, body={}, **WRITE),
    Endpoint("POST /opportunities/{opportunity_id}/lose", opportunity, body=lose_body, **WRITE),
    Endpoint(
        "GET /opportunities/{opportunity_id}/attachments",
        opportunity,
        may=VIEWERS,
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST /opportunities/{opportunity_id}/attachments",
        opportunity,
        body=upload,
        multipart=True,
        status=201,
        **WRITE,
    ),
    # --- UI ---
    Endpoint("GET opportunities:detail", opportunity, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint("GET opportunities:edit", opportunity, **WRITE),
    Endpoint(
        "POST opportunities:edit",
        opportunity,
        body=lambda org, made: {
            "name": made["_opportunity"].name,
            "currency": "CNY",
            "needs": "改",
            "version": made["_opportunity"].version,
        },
        **WRITE,
    ),
    Endpoint("POST opportunities:move", opportunity, body={"stage": "needs_analysis"}, **WRITE),
    Endpoint("POST opportunities:win", winnable, **WRITE),
    Endpoint("POST opportunities:lose", opportunity, body=lose_body, **WRITE),
    Endpoint(
        "POST opportunities:delete",
        opportunity,
        may=("east_manager", "admin"),
        may_not=("rep", "colleague"),
        out_of_scope=OTHERS,
    ),
    Endpoint("POST opportunities:attachment_add", opportunity, body=upload, **WRITE),
    Endpoint("GET opportunities:attachment", attachment, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint("GET opportunities:stage_edit", stage, **ADMIN_ONLY),
    Endpoint("GET opportunities:rule_edit", workflow_rule, **ADMIN_ONLY),
    Endpoint("GET opportunities:loss_reason_edit", loss_reason, **ADMIN_ONLY),
    Endpoint(
        "POST opportunities:loss_reason_edit",
        loss_reason,
        body={"name_zh": "价格太高", "name_en": "Price too high", "order": 5, "is_active": "on"},
        **ADMIN_ONLY,
    ),
]

MASKS = [
    Masked("GET /opportunities/{opportunity_id}", opportunity, "rep", shows={"amount": 880000.0}),
    Masked(
        "GET /opportunities/{opportunity_id}",
        opportunity,
        "colleague",
        shows={"amount": None, "weighted_amount": None},
        hides=("880000", "880,000"),
    ),
    Masked("GET opportunities:detail", opportunity, "colleague", hides=("880000", "880,000")),
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
