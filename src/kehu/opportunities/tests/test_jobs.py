"""Periodic jobs: win probabilities from history, stalled-deal notices."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from kehu.core import config
from kehu.core.testing.deals import win
from kehu.core.testing.factories import Organisation
from kehu.notifications.models import Notification
from kehu.opportunities import selectors, services, tasks
from kehu.opportunities.models import LossReason, Opportunity, ProbabilitySource, Stage
from kehu.opportunities.tests.factories import make_opportunity, ready_for_proposal

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _history(org: Organisation, *, won: int, lost_in_proposal: int, lost_early: int) -> None:
    reason = LossReason.objects.first()
    assert reason is not None
    for _n in range(won):
        deal = ready_for_proposal(org.rep)
        services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="proposal")
        win(deal, org.rep)
    for _n in range(lost_in_proposal):
        deal = ready_for_proposal(org.rep)
        services.opportunity_move_stage(actor=org.rep, opportunity=deal, stage="proposal")
        services.opportunity_lose(actor=org.rep, opportunity=deal, reason=reason)
    for _n in range(lost_early):
        deal = make_opportunity(org.rep)
        services.opportunity_lose(actor=org.rep, opportunity=deal, reason=reason)


def test_probability_from_history_with_basis(org: Organisation) -> None:
    config.put("opportunities.probability_min_sample", 5)
    _history(org, won=3, lost_in_proposal=1, lost_early=2)
    tasks.recompute_win_probabilities.call_local()
    stages = {stage.code: stage for stage in Stage.objects.all()}
    # initial contact: every closed deal reached it; 3 of 6 won.
    assert stages["initial_contact"].probability == 50
    assert stages["initial_contact"].probability_sample == 6
    assert stages["initial_contact"].probability_source == ProbabilitySource.HISTORY
    # proposal: 4 deals reached it (3 won, 1 lost) → 75%, but 4 < 5: the default stays.
    assert stages["proposal"].probability_sample == 4
    assert stages["proposal"].probability == stages["proposal"].default_probability
    assert stages["proposal"].probability_source == ProbabilitySource.DEFAULT
    assert "6" in selectors.probability_basis(stages["initial_contact"])
    assert stages["won"].probability == 100
    assert stages["lost"].probability == 0
    config.put("opportunities.probability_min_sample", 4)
    services.probabilities_recompute()
    assert Stage.objects.get(code="proposal").probability == 75


def test_probability_window_leaves_old_deals_out(org: Organisation) -> None:
    config.put("opportunities.probability_min_sample", 1)
    with time_machine.travel(datetime(2024, 1, 10, 10, tzinfo=SHANGHAI), tick=False):
        _history(org, won=0, lost_in_proposal=0, lost_early=3)
    with time_machine.travel(datetime(2025, 6, 1, 10, tzinfo=SHANGHAI), tick=False):
        _history(org, won=1, lost_in_proposal=0, lost_early=0)
        services.probabilities_recompute()
    first = Stage.objects.get(code="initial_contact")
    assert first.probability_sample == 1
    assert first.probability == 100


def test_stalled_deals_notified_once_per_stall(org: Organisation) -> None:
    start = datetime(2025, 3, 3, 9, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        stalled = make_opportunity(org.rep, name="老项目")
    with time_machine.travel(start + timedelta(days=5), tick=False):
        fresh = make_opportunity(org.rep, name="新项目")
    with time_machine.travel(start + timedelta(days=8), tick=False):
        assert tasks.notify_stalled_deals.call_local() == 1
        assert services.stalled_notify() == 0  # idempotent
        notes = Notification.objects.filter(kind="opportunity_stalled")
        assert [(n.recipient, "老项目" in n.title) for n in notes] == [(org.rep, True)]
        listed = list(selectors.stalled_list(user=org.rep))
        assert listed == [stalled]
        assert fresh not in listed
        board_cards = {
            card.pk: card.is_stalled
            for column in selectors.opportunity_board(
                user=org.rep, filters=selectors.OpportunityFilters()
            )
            for card in column.cards
        }
        assert board_cards == {stalled.pk: True, fresh.pk: False}
        stalled.refresh_from_db()
        services.opportunity_update(actor=org.rep, opportunity=stalled, data={"needs": "MES"})
        services.opportunity_move_stage(actor=org.rep, opportunity=stalled, stage="needs_analysis")
    with time_machine.travel(start + timedelta(days=16), tick=False):
        # a new stall after the move gets a new notice; the fresh deal now stalls too
        assert services.stalled_notify() == 2
    assert Notification.objects.filter(kind="opportunity_stalled").count() == 3


def test_stalled_days_is_a_setting(org: Organisation) -> None:
    start = datetime(2025, 3, 3, 9, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        make_opportunity(org.rep, amount=Decimal(1))
    config.put("opportunities.stalled_days", 3)
    with time_machine.travel(start + timedelta(days=4), tick=False):
        assert Opportunity.objects.count() == 1
        assert services.stalled_notify() == 1
