"""Deals moved through the pipeline the way a user moves them, for tests of every app.

A forward move must meet the requirements of the target stage and of every non-optional stage
it skips (``opportunities.services.stages_passed``), so a test can no longer create a deal in
初步接触 and win it in one call. ``advance`` and ``win`` fill what each stage on the way asks
for through the services a user's edit goes through (an amount, a close date, the needs, a
proposal attachment...), then make the move:

    deal = win(make_opportunity(rep), rep)            # 成交, every stage's criteria met
    deal = advance(deal, "negotiation", rep)          # 谈判签约

Requirement codes registered by other apps (an approved contract, the first payment) are filled
by a filler their test support registers here (``register_filler(code, fill)``); a code without
one fails the test with its name, rather than being skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kehu.accounts.models import User
from kehu.opportunities import requirements, services
from kehu.opportunities.models import Opportunity, Requirement, Stage, StageKind

Filler = Callable[[Opportunity, User], None]

DEFAULT_AMOUNT = Decimal("100000")

_fillers: dict[str, Filler] = {}


def register_filler(code: str, fill: Filler) -> None:
    """How a test meets requirement ``code`` of a deal, acting as the given user."""
    _fillers[code] = fill


def _update(field: str, value: Any) -> Filler:
    def fill(deal: Opportunity, actor: User) -> None:
        services.opportunity_update(actor=actor, opportunity=deal, data={field: value})

    return fill


def _attach(kind: str, name: str) -> Filler:
    def fill(deal: Opportunity, actor: User) -> None:
        upload = SimpleUploadedFile(name, b"%PDF-1.4 " + kind.encode(), "application/pdf")
        services.attachment_add(actor=actor, opportunity=deal, kind=kind, file=upload)

    return fill


def _close_date(deal: Opportunity, actor: User) -> None:
    close = timezone.localdate() + timedelta(days=30)
    services.opportunity_update(actor=actor, opportunity=deal, data={"expected_close": close})


register_filler(Requirement.AMOUNT, _update("amount", DEFAULT_AMOUNT))
register_filler(Requirement.EXPECTED_CLOSE, _close_date)
register_filler(Requirement.NEEDS, _update("needs", "需求：预算、时间与功能已明确"))
register_filler(Requirement.COMPETITORS, _update("competitors", "竞品A"))
register_filler(Requirement.NEXT_STEP, _update("next_step", "约客户演示"))
register_filler(Requirement.PROPOSAL, _attach("proposal", "方案.pdf"))
register_filler(Requirement.QUOTE, _attach("quote", "报价单.pdf"))
register_filler(Requirement.CONTRACT, _attach("contract", "合同.pdf"))


def _approved_contract(deal: Opportunity, actor: User) -> None:
    """成交's ``contract_approved``: the owner drafts and submits, a manager (or, in a test
    without one, a new administrator) approves."""
    from kehu.contracts.services import contracts as contract_services
    from kehu.contracts.tests.support import approved_contract
    from kehu.core.testing.factories import make_user

    probe = deal.contracts.model(opportunity=deal, created_by=deal.owner)
    reviewer = next(
        (user for user in contract_services.reviewers_of(probe) if user.pk != actor.pk),
        None,
    )
    approved_contract(deal, actor=deal.owner, reviewer=reviewer or make_user("admin"))


def _first_payment(deal: Opportunity, actor: User) -> None:
    """成交's ``first_payment``: 30% of the approved contract, received today."""
    from kehu.contracts.models import ContractStatus
    from kehu.contracts.tests.support import record_payment

    approved = deal.contracts.filter(status=ContractStatus.APPROVED)
    if not approved.exists():
        _approved_contract(deal, actor)
    contract = approved.latest("pk")
    record_payment(contract, amount=(contract.amount * Decimal("0.3")).quantize(Decimal("0.01")))


register_filler("contract_approved", _approved_contract)
register_filler("first_payment", _first_payment)


def fill_requirements(deal: Opportunity, stage: Stage, actor: User) -> Opportunity:
    """Meet every requirement of ``stage`` the deal lacks; returns the reloaded deal."""
    for code in stage.requirements:
        deal.refresh_from_db()
        requirements.forget_attachments(deal)
        if requirements.is_met(deal, code):
            continue
        fill = _fillers.get(code)
        if fill is None:
            raise AssertionError(
                f"no test filler for requirement {code!r} of stage {stage.code}: "
                "register one with kehu.core.testing.deals.register_filler"
            )
        fill(deal, actor)
    deal.refresh_from_db()
    requirements.forget_attachments(deal)
    return deal


def prepare(deal: Opportunity, stage_code: str, actor: User | None = None) -> Opportunity:
    """Fill what a move of ``deal`` to ``stage_code`` requires, without moving it."""
    actor = actor or deal.owner
    deal.refresh_from_db()
    target = Stage.objects.get(code=stage_code)
    for stage in [*services.stages_passed(deal.stage, target), target]:
        deal = fill_requirements(deal, stage, actor)
    return deal


def advance(
    deal: Opportunity, stage_code: str, actor: User | None = None, **move: Any
) -> Opportunity:
    """Move ``deal`` forward to ``stage_code`` as a user would: first meet the requirements of
    the target and of each stage on the way, then move (a won stage through the win action)."""
    actor = actor or deal.owner
    deal = prepare(deal, stage_code, actor)
    target = Stage.objects.get(code=stage_code)
    if target.kind == StageKind.WON and deal.is_open:
        return services.opportunity_win(actor=actor, opportunity=deal, stage=target, **move)
    return services.opportunity_move_stage(actor=actor, opportunity=deal, stage=target, **move)


def win(deal: Opportunity, actor: User | None = None, stage: str | None = None) -> Opportunity:
    """Win ``deal`` (in the first won stage, or ``stage``), meeting every criterion on the way."""
    if stage is None:
        first = Stage.objects.filter(kind=StageKind.WON, is_active=True).order_by("order").first()
        assert first is not None, "no won stage is configured"
        stage = first.code
    return advance(deal, stage, actor)
