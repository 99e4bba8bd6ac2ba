"""The funnel from the stored furthest stage order: the same figures as from the stage changes."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from kehu.core.testing.deals import advance, win
from kehu.core.testing.factories import Organisation
from kehu.customers.models import CustomerShare
from kehu.opportunities import selectors, services
from kehu.opportunities.models import LossReason, Opportunity, Stage, StageChange, StageKind
from kehu.opportunities.tests.factories import make_opportunity, proposal_file

pytestmark = pytest.mark.django_db


def _with_proposal(owner: Any, amount: str, **data: Any) -> Opportunity:
    deal = make_opportunity(
        owner, stage="needs_analysis", needs="MES", amount=Decimal(amount), **data
    )
    services.attachment_add(actor=owner, opportunity=deal, kind="proposal", file=proposal_file())
    deal.refresh_from_db()
    return deal


def _move(deal: Opportunity, *codes: str) -> Opportunity:
    for code in codes:
        deal = services.opportunity_move_stage(
            actor=deal.owner, opportunity=deal, stage=code, reason="客户重新评估需求"
        )
    return deal


def _furthest_from_stage_changes() -> dict[int, int | None]:
    """The old funnel's input: the highest non-lost stage order among each deal's stays."""
    reached = dict(
        StageChange.objects.exclude(stage__kind=StageKind.LOST)
        .values("opportunity_id")
        .annotate(top=Max("stage__order"))
        .values_list("opportunity_id", "top")
    )
    return {pk: reached.get(pk) for pk in Opportunity.objects.values_list("pk", flat=True)}


def _stored() -> dict[int, int | None]:
    return dict(Opportunity.objects.values_list("pk", "furthest_stage_order"))


@pytest.fixture
def deals(org: Organisation) -> dict[str, Opportunity]:
    """Deals built through the services across the stages (orders 10 … 60, lost 90)."""
    reason = LossReason.objects.first()
    assert reason is not None
    built: dict[str, Opportunity] = {}
    built["open_no_amount"] = make_opportunity(org.rep)  # reached 10
    lost_late = _move(_with_proposal(org.rep, "200000"), "proposal")
    built["lost_late"] = services.opportunity_lose(
        actor=org.rep, opportunity=lost_late, reason=reason
    )  # reached 30
    paid = _with_proposal(org.rep, "300000")
    paid = win(paid, org.rep)
    built["paid"] = _move(paid, "paid")  # reached 60
    won = make_opportunity(org.rep, stage="needs_analysis", needs="CRM", amount=Decimal(30000))
    built["won_direct"] = win(won, org.rep)  # 50
    early = make_opportunity(org.rep, amount=Decimal(5000))
    built["lost_early"] = services.opportunity_lose(
        actor=org.rep, opportunity=early, reason=reason
    )  # reached 10
    back = _move(_with_proposal(org.rep, "80000"), "proposal", "needs_analysis")
    built["moved_back"] = back  # back in 20, reached 30
    shared = advance(_move(_with_proposal(org.colleague, "70000"), "proposal"), "negotiation")
    CustomerShare.objects.create(customer=shared.customer, user=org.rep, can_edit=False)
    built["shared_hidden"] = shared  # reached 40; the rep may not see its amount
    old = make_opportunity(org.rep, amount=Decimal(999000))
    Opportunity.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    built["created_before"] = old
    return built


def _figures(user: Any) -> list[tuple[str, int, Decimal, float | None]]:
    today = timezone.localdate()
    steps = selectors.funnel(user=user, start=today - timedelta(days=30), end=today)
    return [(step.stage.code, step.count, step.amount, step.conversion) for step in steps]


def test_services_keep_the_furthest_stage_order(deals: dict[str, Opportunity]) -> None:
    stored = _stored()
    assert stored == _furthest_from_stage_changes()
    expected = {
        "open_no_amount": 10,
        "lost_late": 30,
        "paid": 60,
        "won_direct": 50,
        "lost_early": 10,
        "moved_back": 30,
        "shared_hidden": 40,
        "created_before": 10,
    }
    assert {name: stored[deal.pk] for name, deal in deals.items()} == expected


def test_funnel_figures_match_the_stage_change_algorithm(
    org: Organisation, deals: dict[str, Opportunity], django_assert_max_num_queries: Any
) -> None:
    # Figures of the former algorithm (per deal, the highest non-lost stage order among its
    # stage changes; counted in every step up to it; amounts only where the user may see them).
    # The rep's queries: the grants, the own deals, the shared ones (counted only), the stages.
    with django_assert_max_num_queries(4):
        rep = _figures(org.rep)
    assert rep == [
        ("initial_contact", 7, Decimal(615000), None),
        ("needs_analysis", 5, Decimal(610000), 0.7143),
        ("proposal", 5, Decimal(610000), 1.0),
        ("negotiation", 3, Decimal(330000), 0.6),
        ("won", 2, Decimal(330000), 0.6667),
        ("paid", 1, Decimal(300000), 0.5),
    ]
    assert _figures(org.east_manager) == [
        ("initial_contact", 7, Decimal(685000), None),
        ("needs_analysis", 5, Decimal(680000), 0.7143),
        ("proposal", 5, Decimal(680000), 1.0),
        ("negotiation", 3, Decimal(400000), 0.6),
        ("won", 2, Decimal(330000), 0.6667),
        ("paid", 1, Decimal(300000), 0.5),
    ]
    assert _figures(org.colleague) == [
        ("initial_contact", 1, Decimal(70000), None),
        ("needs_analysis", 1, Decimal(70000), 1.0),
        ("proposal", 1, Decimal(70000), 1.0),
        ("negotiation", 1, Decimal(70000), 1.0),
        ("won", 0, Decimal(0), 0.0),
        ("paid", 0, Decimal(0), None),
    ]
    assert _figures(org.south_rep)[0][1:] == (0, Decimal(0), None)


def test_reordering_stages_recomputes_the_furthest_order(
    org: Organisation, deals: dict[str, Opportunity]
) -> None:
    negotiation = Stage.objects.get(code="negotiation")
    negotiation.order = 5
    services.stage_save(actor=org.admin, stage=negotiation)
    stored = _stored()
    assert stored == _furthest_from_stage_changes()
    assert stored[deals["shared_hidden"].pk] == 30
    assert stored[deals["paid"].pk] == 60


def test_migration_backfill_matches_the_services(deals: dict[str, Opportunity]) -> None:
    backfill = importlib.import_module(
        "kehu.opportunities.migrations.0003_furthest_stage_order"
    ).BACKFILL
    kept = _stored()
    Opportunity.objects.update(furthest_stage_order=None)
    with connection.cursor() as cursor:
        cursor.execute(backfill)
    assert _stored() == kept


def test_forecast_counts_hidden_amounts_only_among_shared_deals(
    org: Organisation, deals: dict[str, Opportunity], django_assert_num_queries: Any
) -> None:
    assert selectors.forecast(user=org.rep).hidden == 1  # the colleague's shared deal
    assert selectors.forecast(user=org.east_manager).hidden == 0
    assert selectors.forecast(user=org.admin).hidden == 0
    # the grants, the stages, the open and the won deals of the one part, the owner names; no
    # count of the hidden amounts (it would be a 6th)
    with django_assert_num_queries(5):
        colleague = selectors.forecast(user=org.colleague)
    assert colleague.hidden == 0
    assert sum(row.pipeline for row in colleague.rows) == Decimal(70000)


def test_funnel_counts_deals_that_stay_in_a_retired_stage(
    org: Organisation, deals: dict[str, Opportunity]
) -> None:
    # The paid deal stays in 回款/复购 after that stage is retired: it still reached every
    # step up to it, and its stage's kind (won) is still known.
    Stage.objects.filter(code="paid").update(is_active=False)
    figures = _figures(org.rep)
    assert [code for code, *_rest in figures] == [
        "initial_contact",
        "needs_analysis",
        "proposal",
        "negotiation",
        "won",
    ]
    assert figures[-1][1:3] == (2, Decimal(330000))
