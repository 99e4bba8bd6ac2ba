"""Demo opportunities: every stage occurs, histories are consistent, probabilities computed."""

from __future__ import annotations

import pytest
from django.db import connection

from kehu.core.testing.factories import Organisation
from kehu.opportunities.demo import generate_opportunities
from kehu.opportunities.models import Opportunity, Stage, StageKind
from kehu.opportunities.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def test_demo_opportunities(org: Organisation) -> None:
    for owner in (org.rep, org.colleague, org.hangzhou_rep, org.south_rep) * 15:
        make_customer(owner)
    assert generate_opportunities(seed=7, share=1.0) == 60
    assert generate_opportunities(seed=7, share=1.0) == 0  # customers with a deal are skipped
    kinds = set(Opportunity.objects.values_list("stage__kind", flat=True))
    assert kinds == {StageKind.OPEN, StageKind.WON, StageKind.LOST}
    for deal in Opportunity.objects.prefetch_related("stage_changes"):
        changes = sorted(deal.stage_changes.all(), key=lambda change: change.entered_at)
        assert changes[-1].stage_id == deal.stage_id
        assert changes[-1].exited_at is None
        assert all(change.exited_at for change in changes[:-1])
        assert deal.department_id == deal.owner.department_id
        assert (deal.closed_at is None) == (deal.stage.kind == StageKind.OPEN)
    assert Stage.objects.filter(probability_computed_at__isnull=False).count() == 7


def test_a_big_demo_on_postgresql_builds_the_deal_indexes_after_the_load(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kehu.core.testing.factories import foreign_key_names, index_names, record_deferrals
    from kehu.opportunities import demo
    from kehu.opportunities.models import StageChange

    for owner in (org.rep, org.colleague) * 10:
        make_customer(owner)
    before = {
        model: (index_names(model), foreign_key_names(model))
        for model in (Opportunity, StageChange)
    }
    monkeypatch.setattr(demo, "DEFER_INDEXES_FROM", 5)
    deferred = record_deferrals(monkeypatch)
    assert generate_opportunities(seed=7, share=0.5, limit=6) == 6
    assert generate_opportunities(seed=8, share=1.0) > 0  # not empty any more
    assert deferred == [connection.vendor == "postgresql", False]
    after = {
        model: (index_names(model), foreign_key_names(model))
        for model in (Opportunity, StageChange)
    }
    assert after == before
    assert StageChange.objects.filter(opportunity__in=Opportunity.objects.all()).count() == (
        StageChange.objects.count()
    )


def test_the_demo_history_yields_the_default_probabilities_and_few_stalled_deals(
    org: Organisation,
) -> None:

    from kehu.customers.demo import generate_customers
    from kehu.opportunities.services import stalled_threshold

    generate_customers(count=1500, seed=11, users=[org.rep, org.colleague, org.east_manager])
    generate_opportunities(seed=11, share=1.0)
    for stage in Stage.objects.filter(kind=StageKind.OPEN):
        assert stage.probability_source == "history", stage.code
        assert abs(stage.probability - stage.default_probability) <= 8, (
            stage.code,
            stage.probability,
            stage.default_probability,
        )
    open_deals = Opportunity.objects.filter(stage__kind=StageKind.OPEN)
    stalled = open_deals.filter(stage_entered_at__lt=stalled_threshold())
    assert 0 < stalled.count() < 0.3 * open_deals.count()
