"""What a deal must have before it may enter a stage: one registry of requirement checks.

A stage lists requirement codes (``Stage.requirements``). The built-in codes check the deal's
own fields and attachments; apps above this one (contracts, payments) add theirs with
``register_requirement`` from ``AppConfig.ready()``, so this app never imports them. The stage
form, the stage-move services and the board all read the codes and labels from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.functional import Promise

from kehu.opportunities.models import Requirement

if TYPE_CHECKING:
    from kehu.opportunities.models import Opportunity

RequirementCheck = Callable[["Opportunity"], bool]


@dataclass(frozen=True)
class RequirementSpec:
    code: str
    label: str | Promise
    is_met: RequirementCheck


_registry: dict[str, RequirementSpec] = {}


def register_requirement(code: str, label: str | Promise, is_met: RequirementCheck) -> None:
    """Add (or replace) the check behind a requirement code."""
    _registry[code] = RequirementSpec(code, label, is_met)


def requirement_codes() -> list[str]:
    return list(_registry)


def requirement_choices() -> list[tuple[str, str | Promise]]:
    return [(spec.code, spec.label) for spec in _registry.values()]


def requirement_label(code: str) -> str:
    spec = _registry.get(code)
    return str(spec.label) if spec else code


def is_met(opportunity: Opportunity, code: str) -> bool:
    """Unknown codes (an app that registered them was removed) count as met."""
    spec = _registry.get(code)
    return spec is None or spec.is_met(opportunity)


def _positive_amount(opportunity: Opportunity) -> bool:
    return opportunity.amount is not None and opportunity.amount > 0


def _filled(field: str) -> RequirementCheck:
    return lambda opportunity: bool(str(getattr(opportunity, field) or "").strip())


def _attached(kind: str) -> RequirementCheck:
    def check(opportunity: Opportunity) -> bool:
        if not opportunity.pk:
            return False
        # one query per deal and stage check, cached on the instance for the other kinds
        kinds: set[str] | None = getattr(opportunity, "_attachment_kinds", None)
        if kinds is None:
            kinds = set(opportunity.attachments.values_list("kind", flat=True))
            opportunity._attachment_kinds = kinds  # type: ignore[attr-defined]
        return kind in kinds

    return check


def forget_attachments(opportunity: Opportunity) -> None:
    """Drop the cached attachment kinds after an attachment is added or removed."""
    opportunity.__dict__.pop("_attachment_kinds", None)


register_requirement(Requirement.AMOUNT, Requirement.AMOUNT.label, _positive_amount)
for _code in (
    Requirement.EXPECTED_CLOSE,
    Requirement.NEXT_STEP,
    Requirement.NEEDS,
    Requirement.COMPETITORS,
):
    register_requirement(_code, _code.label, _filled(_code.value))
for _code in (Requirement.PROPOSAL, Requirement.QUOTE, Requirement.CONTRACT):
    register_requirement(_code, _code.label, _attached(_code.value))
