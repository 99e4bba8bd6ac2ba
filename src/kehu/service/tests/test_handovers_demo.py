"""The demo hands won customers to the service login through real handovers."""

from __future__ import annotations

from pathlib import Path

import pytest

from kehu.accounts.demo import ensure_demo_users
from kehu.core.demo import _steps
from kehu.customers import selectors
from kehu.customers.demo import generate_customers
from kehu.customers.models import Customer, CustomerShare, CustomerStatus
from kehu.service.demo import HANDED_TO_SERVICE, hand_to_service
from kehu.service.models import Handover, HandoverStatus


@pytest.mark.django_db
def test_the_demo_service_login_is_handed_won_customers() -> None:
    """liu.service has a book: won customers handed over and confirmed, read-only."""
    users = ensure_demo_users()
    generate_customers(count=80, seed=2, users=users)
    Customer.objects.filter(pk__in=Customer.objects.order_by("pk").values("pk")[:20]).update(
        status=CustomerStatus.WON
    )
    service = next(user for user in users if user.role == "service")
    assert hand_to_service(users=users) == HANDED_TO_SERVICE
    handovers = Handover.objects.filter(specialist=service)
    assert handovers.count() == HANDED_TO_SERVICE
    assert set(handovers.values_list("status", flat=True)) == {HandoverStatus.COMPLETED}
    assert all(h.owner_id == h.customer.owner_id for h in handovers.select_related("customer"))
    seen = selectors.customer_list(user=service, filters=selectors.CustomerFilters())
    assert seen.count() == HANDED_TO_SERVICE
    assert all(customer.status == CustomerStatus.WON for customer in seen)
    assert not CustomerShare.objects.filter(user=service).exists()
    assert not Customer.objects.editable_by(service).exists()
    # a second run hands no customer twice
    hand_to_service(users=users)
    assert Handover.objects.values("customer_id").distinct().count() == Handover.objects.count()


def test_the_step_keeps_its_place_in_the_demo() -> None:
    step = _steps["service_handover"]
    assert step.order == 35
    assert not step.bulk


@pytest.mark.django_db
def test_the_fuzz_company_has_handovers_and_rules(tmp_path: Path) -> None:
    from kehu.core.testing.fuzzdata import seed_company

    found = seed_company(customers=60, files=tmp_path)
    assert found["handover_id"]
    assert found["routing_rule_id"]
    assert found["handover_attachment_id"]
    statuses = set(Handover.objects.values_list("status", flat=True))
    assert {HandoverStatus.DRAFT, HandoverStatus.PENDING, HandoverStatus.COMPLETED} <= statuses
