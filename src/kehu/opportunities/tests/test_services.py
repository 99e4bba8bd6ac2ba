"""Pipeline services: creation, validation, stage moves, requirements, win/lose, rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from kehu.core import config
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from kehu.core.testing.deals import prepare
from kehu.core.testing.factories import Organisation
from kehu.customers.models import CustomerStatus, StatusChange
from kehu.followups.models import Task
from kehu.notifications.models import Notification
from kehu.opportunities import services
from kehu.opportunities.models import (
    LossReason,
    NotifyTarget,
    Opportunity,
    Stage,
    StageChange,
    WorkflowRule,
    WorkflowRun,
)
from kehu.opportunities.tests.factories import (
    make_customer,
    make_opportunity,
    proposal_file,
    ready_for_proposal,
)

pytestmark = pytest.mark.django_db


def test_seeded_stages_have_both_labels_and_checklists() -> None:
    stages = list(Stage.objects.all())
    assert [stage.name_zh for stage in stages] == [
        "初步接触",
        "需求分析",
        "方案提交",
        "谈判签约",
        "成交",
        "回款/复购",
        "输单",
    ]
    assert all(stage.name_en and stage.entry_criterion_zh for stage in stages)
    proposal = Stage.objects.get(code="proposal")
    assert proposal.requirements == ["amount", "proposal"]
    assert proposal.actions_zh.splitlines()[0] == "讲解方案"
    assert WorkflowRule.objects.filter(stage=proposal, notify=NotifyTarget.SUPERVISOR).exists()


def test_create_defaults_and_stage_history(org: Organisation) -> None:
    customer = make_customer(org.rep)
    opportunity = services.opportunity_create(
        actor=org.rep, customer=customer, data={"name": "MES 项目", "amount": "120,000"}
    )
    assert opportunity.stage.code == "initial_contact"
    assert opportunity.currency == "CNY"
    assert opportunity.amount == Decimal("120000.00")
    assert opportunity.owner == org.rep
    assert opportunity.department == org.shanghai
    change = StageChange.objects.get(opportunity=opportunity)
    assert change.entered_by == org.rep
    assert change.exited_at is None
    assert opportunity.history.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"amount": "1e15"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"expected_close": "2001-01-01"}, "expected_close"),
        ({"expected_close": "not a date"}, "expected_close"),
        ({"currency": "XYZ"}, "currency"),
        ({"stage": "nope"}, "stage"),
        ({"stage": "won"}, "stage"),
        ({"name": "  "}, "name"),
        ({"probability": 99}, "probability"),
    ],
)
def test_create_rejects_bad_input(org: Organisation, data: dict[str, Any], field: str) -> None:
    customer = make_customer(org.rep)
    with pytest.raises(InvalidInput) as error:
        services.opportunity_create(actor=org.rep, customer=customer, data={"name": "项目", **data})
    assert field in error.value.errors
    assert not Opportunity.objects.exists()


def test_create_for_an_invisible_customer_or_foreign_owner_is_refused(org: Organisation) -> None:
    foreign = make_customer(org.south_rep)
    with pytest.raises(InvalidInput):
        services.opportunity_create(actor=org.rep, customer=foreign, data={"name": "x"})
    mine = make_customer(org.rep)
    with pytest.raises(InvalidInput) as error:
        services.opportunity_create(
            actor=org.rep, customer=mine, data={"name": "x", "owner": org.colleague.pk}
        )
    assert "owner" in error.value.errors
    manager_made = services.opportunity_create(
        actor=org.east_manager, customer=mine, data={"name": "x", "owner": org.colleague}
    )
    assert manager_made.owner == org.colleague


def test_move_checks_requirements_per_requirement(org: Organisation) -> None:
    opportunity = make_opportunity(org.rep, stage="needs_analysis", needs="ERP")
    with pytest.raises(InvalidInput) as error:
        services.opportunity_move_stage(actor=org.rep, opportunity=opportunity, stage="proposal")
    assert error.value.code == "stage_requirements"
    assert set(error.value.errors) == {"amount", "proposal"}
    assert "方案提交" in error.value.detail or "Proposal" in error.value.detail
    opportunity.refresh_from_db()
    assert opportunity.stage.code == "needs_analysis"
    assert opportunity.version == 1


def test_move_records_entry_and_exit(org: Organisation) -> None:
    opportunity = ready_for_proposal(org.rep)
    moved = services.opportunity_move_stage(
        actor=org.rep,
        opportunity=opportunity,
        stage="proposal",
        version=opportunity.version,
    )
    assert moved.stage.code == "proposal"
    assert moved.version == opportunity.version + 1
    changes = list(StageChange.objects.filter(opportunity=opportunity).order_by("id"))
    assert [change.stage.code for change in changes] == ["needs_analysis", "proposal"]
    assert changes[0].exited_at is not None
    assert changes[0].exited_by == org.rep
    assert changes[1].exited_at is None


def test_stale_version_changes_nothing(org: Organisation) -> None:
    opportunity = ready_for_proposal(org.rep)
    with pytest.raises(StaleVersion):
        services.opportunity_move_stage(
            actor=org.rep,
            opportunity=opportunity,
            stage="proposal",
            version=opportunity.version - 1,
        )
    opportunity.refresh_from_db()
    assert opportunity.stage.code == "needs_analysis"


def test_colleague_cannot_move_my_deal(org: Organisation) -> None:
    opportunity = ready_for_proposal(org.rep)
    with pytest.raises(NotFound):
        services.opportunity_move_stage(
            actor=org.colleague, opportunity=opportunity, stage="proposal"
        )
    services.opportunity_move_stage(
        actor=org.east_manager, opportunity=opportunity, stage="proposal"
    )


def test_win_sets_customer_to_won(org: Organisation) -> None:
    opportunity = ready_for_proposal(org.rep)
    opportunity = prepare(opportunity, "won", org.rep)  # its contract and first payment
    won = services.opportunity_win(actor=org.rep, opportunity=opportunity)
    assert won.stage.code == "won"
    assert won.closed_at is not None
    won.customer.refresh_from_db()
    assert won.customer.status == CustomerStatus.WON
    assert StatusChange.objects.filter(customer=won.customer, new_status="won").exists()
    with pytest.raises(Conflict):
        services.opportunity_win(actor=org.rep, opportunity=won)
    with pytest.raises(Conflict):
        services.opportunity_move_stage(actor=org.rep, opportunity=won, stage="negotiation")
    paid = services.opportunity_move_stage(actor=org.rep, opportunity=won, stage="paid")
    assert paid.stage.code == "paid"


def test_win_requires_the_won_stage_requirements(org: Organisation) -> None:
    opportunity = make_opportunity(org.rep)
    with pytest.raises(InvalidInput) as error:
        services.opportunity_win(actor=org.rep, opportunity=opportunity)
    assert "amount" in error.value.errors
    opportunity.customer.refresh_from_db()
    assert opportunity.customer.status == CustomerStatus.POTENTIAL


def test_lose_records_reason_and_a_lost_deal_cannot_move(org: Organisation) -> None:
    opportunity = make_opportunity(org.rep)
    reason = LossReason.objects.get(name_zh="价格过高")
    with pytest.raises(InvalidInput):
        services.opportunity_lose(actor=org.rep, opportunity=opportunity, reason=99999)
    lost = services.opportunity_lose(
        actor=org.rep, opportunity=opportunity, reason=reason.pk, note="对手便宜 20%"
    )
    assert lost.stage.code == "lost"
    assert lost.loss_reason == reason
    assert lost.loss_note == "对手便宜 20%"
    with pytest.raises(Conflict) as error:
        services.opportunity_move_stage(actor=org.rep, opportunity=lost, stage="proposal")
    assert error.value.code == "deal_lost"
    with pytest.raises(Conflict):
        services.opportunity_lose(actor=org.rep, opportunity=lost, reason=reason)


def test_moving_into_lost_needs_the_lose_action(org: Organisation) -> None:
    opportunity = make_opportunity(org.rep)
    with pytest.raises(InvalidInput) as error:
        services.opportunity_move_stage(actor=org.rep, opportunity=opportunity, stage="lost")
    assert error.value.code == "use_lose"


def test_update_validates_and_keeps_history(org: Organisation) -> None:
    opportunity = make_opportunity(org.rep)
    with pytest.raises(InvalidInput):
        services.opportunity_update(
            actor=org.rep, opportunity=opportunity, data={"amount": -1}, version=1
        )
    with pytest.raises(InvalidInput):
        services.opportunity_update(
            actor=org.rep,
            opportunity=opportunity,
            data={"expected_close": timezone.localdate() - timedelta(days=400)},
        )
    with pytest.raises(StaleVersion):
        services.opportunity_update(
            actor=org.rep, opportunity=opportunity, data={"amount": 5}, version=7
        )
    updated = services.opportunity_update(
        actor=org.rep,
        opportunity=opportunity,
        data={"amount": "88000", "next_step": "演示"},
        version=1,
    )
    assert updated.amount == Decimal("88000.00")
    assert updated.version == 2
    assert updated.history.count() == 2


def test_close_date_window_is_a_setting(org: Organisation) -> None:
    config.put("opportunities.max_past_close_days", 400)
    opportunity = make_opportunity(
        org.rep, expected_close=timezone.localdate() - timedelta(days=300)
    )
    assert opportunity.expected_close is not None


def test_only_managers_and_admins_delete(org: Organisation) -> None:
    opportunity = make_opportunity(org.rep)
    with pytest.raises(Forbidden):
        services.opportunity_delete(actor=org.rep, opportunity=opportunity)
    services.opportunity_delete(actor=org.east_manager, opportunity=opportunity)
    assert not Opportunity.objects.exists()


def test_attachment_kind_and_size_are_checked(org: Organisation) -> None:
    opportunity = make_opportunity(org.rep)
    with pytest.raises(InvalidInput):
        services.attachment_add(
            actor=org.rep, opportunity=opportunity, kind="virus", file=proposal_file()
        )
    with pytest.raises(NotFound):
        services.attachment_add(
            actor=org.colleague, opportunity=opportunity, kind="proposal", file=proposal_file()
        )
    assert not opportunity.attachments.exists()


def test_default_rule_notifies_the_supervisor_once(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    opportunity = ready_for_proposal(org.rep)
    with django_capture_on_commit_callbacks(execute=True):
        services.opportunity_move_stage(actor=org.rep, opportunity=opportunity, stage="proposal")
    notes = Notification.objects.filter(kind="opportunity_stage")
    assert [note.recipient for note in notes] == [org.east_manager]
    assert opportunity.name in notes[0].title
    change = StageChange.objects.get(opportunity=opportunity, stage__code="proposal")
    assert services.workflow_rules_run(stage_change_id=change.pk) == 0  # once per transition
    assert Notification.objects.filter(kind="opportunity_stage").count() == 1
    assert WorkflowRun.objects.count() == 1


def test_department_head_is_the_supervisor_when_set(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    org.shanghai.head = org.colleague
    org.shanghai.save()
    opportunity = ready_for_proposal(org.rep)
    with django_capture_on_commit_callbacks(execute=True):
        services.opportunity_move_stage(actor=org.rep, opportunity=opportunity, stage="proposal")
    recipients = set(
        Notification.objects.filter(kind="opportunity_stage").values_list(
            "recipient__username", flat=True
        )
    )
    assert recipients == {"colleague"}


def test_rule_with_amount_threshold_and_task(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    negotiation = Stage.objects.get(code="negotiation")
    rule = services.workflow_rule_save(
        actor=org.admin,
        rule=WorkflowRule(
            name="大单谈判",
            stage=negotiation,
            min_amount=Decimal("500000"),
            notify=NotifyTarget.USER,
            notify_user=org.admin,
            create_task=True,
            task_title="准备合同草案",
            task_due_days=2,
        ),
    )
    small = ready_for_proposal(org.rep)
    big = ready_for_proposal(org.rep, name="大单")
    services.opportunity_update(actor=org.rep, opportunity=big, data={"amount": 800000})
    with django_capture_on_commit_callbacks(execute=True):
        for deal in (small, big):
            services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="negotiation")
    assert WorkflowRun.objects.filter(rule=rule).count() == 1
    task = Task.objects.get(title="准备合同草案")
    assert task.assignee == org.rep
    assert Notification.objects.filter(recipient=org.admin, kind="opportunity_stage").count() == 1


def test_rule_admin_checks(org: Organisation) -> None:
    stage = Stage.objects.get(code="proposal")
    with pytest.raises(Forbidden):
        services.workflow_rule_save(
            actor=org.rep, rule=WorkflowRule(name="x", stage=stage, notify="owner")
        )
    with pytest.raises(InvalidInput):
        services.workflow_rule_save(actor=org.admin, rule=WorkflowRule(name="x", stage=stage))
    with pytest.raises(InvalidInput):
        services.workflow_rule_save(
            actor=org.admin, rule=WorkflowRule(name="x", stage=stage, notify="user")
        )


def test_admin_can_add_and_rename_stages(org: Organisation) -> None:
    stage = services.stage_save(
        actor=org.admin,
        stage=Stage(
            code="trial",
            name_zh="试用",
            name_en="Trial",
            order=35,
            requirements=["next_step"],
            default_probability=55,
        ),
    )
    assert stage.probability == 55
    with pytest.raises(InvalidInput):
        services.stage_save(
            actor=org.admin,
            stage=Stage(code="bad", name_zh="x", name_en="x", requirements=["nope"]),
        )
    with pytest.raises(Forbidden):
        services.stage_save(actor=org.rep, stage=stage)
    opportunity = ready_for_proposal(org.rep)
    with pytest.raises(InvalidInput) as error:
        services.opportunity_move_stage(actor=org.rep, opportunity=opportunity, stage="trial")
    assert set(error.value.errors) == {"next_step"}


def test_long_names_fit_the_history_reason(org: Organisation) -> None:
    opportunity = ready_for_proposal(org.rep, name="长" * 200)
    opportunity = prepare(opportunity, "won", org.rep)  # its contract and first payment
    won = services.opportunity_win(actor=org.rep, opportunity=opportunity)
    reasons = [row.history_change_reason or "" for row in won.customer.history.all()]
    assert reasons
    assert all(len(reason) <= 100 for reason in reasons)
    assert won.customer.status == CustomerStatus.WON


def test_customer_timeline_shows_stage_changes_in_scope(org: Organisation) -> None:
    from kehu.customers.timeline import items_for

    opportunity = ready_for_proposal(org.rep)
    services.opportunity_move_stage(actor=org.rep, opportunity=opportunity, stage="proposal")
    items = [
        item for item in items_for(opportunity.customer, org.rep) if item.kind == "opportunity"
    ]
    assert len(items) == 2
    assert "方案提交" in items[0].title or "Proposal" in items[0].title
    assert not [
        item
        for item in items_for(opportunity.customer, org.colleague)
        if item.kind == "opportunity"
    ]
