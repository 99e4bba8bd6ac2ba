"""The contract card of the deal page (``opportunities.sections``) and the 成交 requirement."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.contracts.models import Contract
from kehu.contracts.selectors import contracts as selectors
from kehu.contracts.services import contracts as services
from kehu.core.access import policy_of
from kehu.followups.models import Task, TaskStatus
from kehu.opportunities import requirements, sections

REQUIREMENT = "contract_approved"


def deal_card(opportunity: Any, user: Any) -> dict[str, Any] | None:
    """The deal's contracts (amounts masked for whoever sees masks), the drafting task's due
    date, and whether the user may draft one. Four queries whatever the number of contracts."""
    rows = selectors.deal_contracts(user=user, opportunity=opportunity)
    policy = policy_of(Contract)
    contracts = [
        {"contract": row, "amount_hidden": "amount" in policy.masked_fields(user, row)}
        for row in rows
    ]
    task = Task.objects.filter(
        dedupe_key=f"contract-draft:{opportunity.pk}", status=TaskStatus.OPEN
    ).first()
    may_create = (
        services.contract_may_create(user, opportunity)
        and not any(not row.is_repeat_order and row.status != "void" for row in rows)
        and type(opportunity).objects.editable_by(user).filter(pk=opportunity.pk).exists()
    )
    if not contracts and not may_create and task is None:
        return None
    return {
        "opportunity": opportunity,
        "contracts": contracts,
        "task": task,
        "may_create": may_create,
        "approved": any(row.status == "approved" for row in rows),
    }


def register() -> None:
    requirements.register_requirement(
        REQUIREMENT, _("An approved contract"), selectors.has_approved_contract
    )
    sections.register(
        sections.DealSection(
            key="contract",
            title=_("Contract"),
            template="contracts/contracts/section.html",
            context=deal_card,
            order=10,
        )
    )
