from __future__ import annotations

import pytest

from kehu.core.testing.factories import Organisation
from kehu.followups.demo import generate_followups
from kehu.followups.models import FollowUp, Task, TaskKind
from kehu.followups.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def test_demo_follow_ups(org: Organisation) -> None:
    customers = [make_customer(org.rep) for _ in range(6)]
    created = generate_followups(seed=7)
    assert created == FollowUp.objects.count() >= 6
    for customer in customers:
        customer.refresh_from_db()
        assert customer.last_contact_at is not None
    assert Task.objects.filter(kind=TaskKind.CADENCE, status="open").count() == 6
