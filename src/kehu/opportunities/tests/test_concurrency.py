"""Two people drag the same card at once: exactly one move wins, the other gets 409."""

from __future__ import annotations

import threading
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection

from kehu.core.errors import StaleVersion
from kehu.core.testing.factories import Organisation
from kehu.opportunities import services
from kehu.opportunities.models import Opportunity, StageChange
from kehu.opportunities.tests.factories import ready_for_proposal

THREADS = 6


@pytest.mark.django_db(transaction=True)
def test_parallel_moves_with_one_version_let_exactly_one_through(org: Organisation) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite serialises all writers on one database lock, so there is no race to "
            "test; run with KEHU_DATABASE_URL=postgresql://… to exercise the row locks"
        )
    import_module("kehu.opportunities.migrations.0002_seed_stages").seed(apps, None)
    deal = ready_for_proposal(org.rep)
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()
    targets = ["proposal", "initial_contact"]

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            services.opportunity_move_stage(
                actor=org.rep,
                opportunity=Opportunity.objects.get(pk=deal.pk),
                stage=targets[index % 2],
                version=deal.version,
                reason="The customer asked to start over",  # the backward move needs one
            )
            result = "moved"
        except StaleVersion:
            result = "stale"
        except BaseException as error:  # reported by the assertion below
            result = repr(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["moved"] + ["stale"] * (THREADS - 1)
    before = deal.version
    deal.refresh_from_db()
    assert deal.version == before + 1
    assert StageChange.objects.filter(opportunity=deal, exited_at__isnull=True).count() == 1
