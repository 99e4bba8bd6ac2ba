"""Contracts: the drafting task on the working calendar and its escalation, numbering, the
manager's review (never by the author), editing rules, voiding, and the 成交 requirement."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.contracts.models import Contract, ContractReview, ContractStatus
from kehu.contracts.services import contracts as services
from kehu.contracts.tests.support import (
    approved_contract,
    contract_file,
    draft_contract,
    record_payment,
)
from kehu.core import config
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.testing.factories import Organisation
from kehu.followups.models import Task, TaskStatus
from kehu.followups.reminders import escalate_overdue
from kehu.notifications.models import Notification
from kehu.opportunities import services as deals
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import ready_for_proposal
from kehu.service.services import calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY = datetime(2026, 12, 4, 10, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def in_negotiation(org: Organisation, **data: Any) -> Opportunity:
    deal = ready_for_proposal(org.rep, **data)
    deal = deals.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="proposal")
    return deals.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")


def drafting_task(deal: Opportunity) -> Task | None:
    return Task.objects.filter(dedupe_key=f"contract-draft:{deal.pk}").first()


def titles(user: Any) -> list[str]:
    return list(Notification.objects.filter(recipient=user).values_list("title", flat=True))


# --- the drafting task --------------------------------------------------------------------------


@pytest.mark.django_db
def test_entering_negotiation_gives_the_owner_a_task_due_in_two_working_days(
    org: Organisation,
) -> None:
    with time_machine.travel(FRIDAY, tick=False):
        deal = in_negotiation(org)
    task = drafting_task(deal)
    assert task is not None
    assert task.assignee == org.rep
    assert task.status == TaskStatus.OPEN
    assert task.related_id == deal.pk
    assert task.customer_id == deal.customer_id
    # Friday → Monday (1), Tuesday (2), at the end of the working day
    assert task.due_at.astimezone(SHANGHAI) == datetime(2026, 12, 8, 18, tzinfo=SHANGHAI)
    assert deal.name in task.title


@pytest.mark.django_db
def test_the_due_date_skips_holidays_of_the_business_calendar(org: Organisation) -> None:
    calendar.calendar_entry_create(
        actor=org.admin,
        data={"name": "公司假日", "kind": "holiday", "start": "2026-12-07", "end": "2026-12-07"},
    )
    with time_machine.travel(FRIDAY, tick=False):
        deal = in_negotiation(org)
    task = drafting_task(deal)
    assert task is not None
    assert task.due_at.astimezone(SHANGHAI).date() == date(2026, 12, 9)


@pytest.mark.django_db
def test_working_days_and_stage_are_settings(org: Organisation) -> None:
    config.put(services.DRAFT_WORKING_DAYS.key, 5)
    try:
        with time_machine.travel(FRIDAY, tick=False):
            deal = in_negotiation(org)
    finally:
        config.put(services.DRAFT_WORKING_DAYS.key, 2)
    task = drafting_task(deal)
    assert task is not None
    assert task.due_at.astimezone(SHANGHAI).date() == date(2026, 12, 11)
    config.put(services.DRAFT_STAGE.key, "won")
    try:
        other = in_negotiation(org)
    finally:
        config.put(services.DRAFT_STAGE.key, "negotiation")
    assert drafting_task(other) is None


@pytest.mark.django_db
def test_an_overdue_drafting_task_is_escalated_to_the_owners_manager(org: Organisation) -> None:
    with time_machine.travel(FRIDAY, tick=False):
        deal = in_negotiation(org)
    with time_machine.travel(datetime(2026, 12, 9, 19, tzinfo=SHANGHAI), tick=False):
        assert escalate_overdue() == 1
    assert any(deal.name in title for title in titles(org.east_manager))


@pytest.mark.django_db
def test_submitting_completes_the_task_and_the_contract_keeps_its_due_date(
    org: Organisation,
) -> None:
    with time_machine.travel(FRIDAY, tick=False):
        deal = in_negotiation(org)
        contract = draft_contract(deal)
    assert contract.draft_due == date(2026, 12, 8)
    services.contract_submit(actor=org.rep, contract=contract)
    task = drafting_task(deal)
    assert task is not None
    assert task.status == TaskStatus.DONE
    # moving back and forth does not start a second task while a contract exists
    deals.opportunity_move_stage(
        actor=org.rep, opportunity=deal, stage="proposal", reason="客户要求修改方案"
    )
    deals.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")
    assert Task.objects.filter(dedupe_key=f"contract-draft:{deal.pk}").count() == 1


# --- numbering ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_numbers_follow_the_pattern_and_never_repeat(org: Organisation) -> None:
    with time_machine.travel(FRIDAY, tick=False):
        first = draft_contract(in_negotiation(org))
        second = draft_contract(in_negotiation(org))
    assert (first.number, second.number) == ("HT20260001", "HT20260002")
    config.put(services.NUMBER_PATTERN.key, "KH-{year}{month}-{seq:03}")
    try:
        with time_machine.travel(FRIDAY, tick=False):
            third = draft_contract(in_negotiation(org))
    finally:
        config.put(services.NUMBER_PATTERN.key, services.NUMBER_PATTERN.default)
    assert third.number == "KH-202612-001"


@pytest.mark.django_db
def test_a_number_typed_by_hand_must_be_unique(org: Organisation) -> None:
    draft_contract(in_negotiation(org), number="SH-2026-88")
    with pytest.raises(InvalidInput) as error:
        draft_contract(in_negotiation(org), number="SH-2026-88")
    assert "number" in error.value.errors
    with pytest.raises(InvalidInput) as bad:
        draft_contract(in_negotiation(org), number="<script>")
    assert "number" in bad.value.errors


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1e20"}, "amount"),
        ({"title": " "}, "title"),
        ({"starts_on": "2026-12-10", "ends_on": "2026-12-01"}, "ends_on"),
        ({"signed_on": "2026-13-40"}, "signed_on"),
        ({"currency": "XXX"}, "currency"),
        ({"is_repeat_order": True}, "is_repeat_order"),
        ({"status": "approved"}, "status"),
    ],
)
@pytest.mark.django_db
def test_bad_input_is_refused_naming_the_field(
    org: Organisation, data: dict[str, Any], field: str
) -> None:
    deal = in_negotiation(org)
    with pytest.raises(InvalidInput) as error:
        draft_contract(deal, **data)
    assert field in error.value.errors
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_a_file_with_markup_is_refused(org: Organisation) -> None:
    deal = in_negotiation(org)
    bad = SimpleUploadedFile("合同.pdf", b"<html><script>x</script>", content_type="text/html")
    with pytest.raises(InvalidInput) as error:
        services.contract_create(
            actor=org.rep, opportunity=deal, data={"title": "合同", "amount": 1}, file=bad
        )
    assert "file" in error.value.errors


# --- review -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_draft_submit_return_resubmit_approve(org: Organisation) -> None:
    deal = in_negotiation(org)
    contract = draft_contract(deal, file=False, terms="")
    with pytest.raises(InvalidInput) as incomplete:
        services.contract_submit(actor=org.rep, contract=contract)
    assert "file" in incomplete.value.errors
    contract = services.contract_attach(actor=org.rep, contract=contract, file=contract_file())
    contract = services.contract_submit(actor=org.rep, contract=contract)
    assert contract.status == ContractStatus.IN_REVIEW
    assert any(contract.number in title for title in titles(org.east_manager))
    with pytest.raises(Conflict):
        services.contract_update(actor=org.rep, contract=contract, data={"title": "改"})
    with pytest.raises(InvalidInput) as no_comment:
        services.contract_return(actor=org.east_manager, contract=contract, comment=" ")
    assert "comment" in no_comment.value.errors
    contract = services.contract_return(
        actor=org.east_manager, contract=contract, comment="付款比例改为 3-6-1"
    )
    assert contract.status == ContractStatus.RETURNED
    assert contract.review_comment == "付款比例改为 3-6-1"
    assert any("returned" in t.lower() or "退回" in t for t in titles(org.rep))
    contract = services.contract_update(
        actor=org.rep, contract=contract, data={"terms": "预付30%，验收60%，质保10%"}
    )
    contract = services.contract_submit(actor=org.rep, contract=contract)
    contract = services.contract_approve(actor=org.east_manager, contract=contract)
    assert contract.status == ContractStatus.APPROVED
    assert contract.reviewed_by == org.east_manager
    decisions = list(
        ContractReview.objects.filter(contract=contract)
        .order_by("id")
        .values_list("decision", flat=True)
    )
    assert decisions == ["returned", "approved"]
    with pytest.raises(Conflict):
        services.contract_update(actor=org.rep, contract=contract, data={"title": "改"})
    with pytest.raises(Conflict):
        services.contract_attach(actor=org.rep, contract=contract, file=contract_file())
    reasons = [row.history_change_reason for row in contract.history.all()]
    assert any(reason in ("Submitted for review", "已提交审核") for reason in reasons)


@pytest.mark.django_db
def test_the_author_can_never_approve_their_own_contract(org: Organisation) -> None:
    deal = in_negotiation(org)
    # the manager drafts the contract of the rep's deal: someone else must review it
    contract = draft_contract(deal, actor=org.east_manager)
    contract = services.contract_submit(actor=org.east_manager, contract=contract)
    with pytest.raises(Forbidden):
        services.contract_approve(actor=org.east_manager, contract=contract)
    assert not services.contract_may_review(org.east_manager, contract)
    # the owner may not either; a colleague does not even see the deal
    with pytest.raises(Forbidden):
        services.contract_approve(actor=org.rep, contract=contract)
    with pytest.raises((Forbidden, NotFound)):
        services.contract_approve(actor=org.colleague, contract=contract)
    assert services.reviewers_of(contract) == [org.admin]
    assert services.contract_approve(actor=org.admin, contract=contract).status == "approved"


@pytest.mark.django_db
def test_an_admin_who_drafted_cannot_approve_and_another_teams_manager_cannot_see(
    org: Organisation,
) -> None:
    contract = services.contract_submit(
        actor=org.admin, contract=draft_contract(in_negotiation(org), actor=org.admin)
    )
    with pytest.raises(Forbidden):
        services.contract_approve(actor=org.admin, contract=contract)
    with pytest.raises(NotFound):
        services.contract_approve(actor=org.south_manager, contract=contract)


@pytest.mark.django_db
def test_one_live_contract_per_deal_void_to_replace(org: Organisation) -> None:
    deal = in_negotiation(org)
    first = approved_contract(deal)
    with pytest.raises(Conflict):
        draft_contract(deal)
    with pytest.raises(InvalidInput) as no_reason:
        services.contract_void(actor=org.rep, contract=first, reason="")
    assert "reason" in no_reason.value.errors
    voided = services.contract_void(actor=org.rep, contract=first, reason="价格调整，重签")
    assert voided.status == ContractStatus.VOID
    second = draft_contract(deal)
    assert second.number != first.number


@pytest.mark.django_db
def test_a_lost_deal_gets_no_contract(org: Organisation) -> None:
    from kehu.opportunities.models import LossReason

    deal = in_negotiation(org)
    reason = LossReason.objects.filter(is_active=True).first()
    assert reason is not None
    deal = deals.opportunity_lose(actor=org.rep, opportunity=deal, reason=reason)
    with pytest.raises(Conflict):
        draft_contract(deal)


@pytest.mark.django_db
def test_another_teams_rep_cannot_draft_or_see(org: Organisation) -> None:
    deal = in_negotiation(org)
    with pytest.raises(NotFound):
        draft_contract(deal, actor=org.south_rep)
    contract = draft_contract(deal)
    with pytest.raises(NotFound):
        services.contract_submit(actor=org.south_rep, contract=contract)


# --- the 成交 requirement -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_deal_is_won_only_with_an_approved_contract(org: Organisation) -> None:
    deal = in_negotiation(org)
    with pytest.raises(InvalidInput) as refused:
        deals.opportunity_win(actor=org.rep, opportunity=deal)
    assert "contract_approved" in refused.value.errors
    contract = draft_contract(deal)
    services.contract_submit(actor=org.rep, contract=contract)
    with pytest.raises(InvalidInput):
        deals.opportunity_win(actor=org.rep, opportunity=deal)
    services.contract_approve(actor=org.east_manager, contract=contract)
    missing = deals.missing_requirements(deal, deal.stage.__class__.objects.get(code="won"))
    assert "contract_approved" not in missing
    record_payment(contract, amount="100000")  # 成交 also needs the first payment (payments)
    won = deals.opportunity_win(actor=org.rep, opportunity=deal)
    assert won.stage.code == "won"


@pytest.mark.django_db
def test_a_repeat_order_is_a_second_contract_of_a_won_deal(org: Organisation) -> None:
    deal = in_negotiation(org)
    record_payment(approved_contract(deal), amount="100000")
    deal = deals.opportunity_win(actor=org.rep, opportunity=deal)
    repeat = draft_contract(deal, is_repeat_order=True, amount=Decimal("50000"))
    assert repeat.is_repeat_order
    assert repeat.status == ContractStatus.DRAFT
    assert Contract.objects.filter(opportunity=deal).count() == 2
    assert deal.stage.code == "won"
