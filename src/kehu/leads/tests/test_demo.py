"""Demo leads: made through the services, in every state a team meets."""

from __future__ import annotations

import pytest

from kehu.accounts.demo import ensure_demo_users
from kehu.leads.demo import generate_leads
from kehu.leads.models import Lead, LeadStatus

pytestmark = pytest.mark.django_db


def test_demo_leads_are_in_every_state() -> None:
    users = ensure_demo_users()
    assert generate_leads(count=40, seed=3, users=users) == 40
    assert Lead.objects.count() == 40
    assert set(Lead.objects.values_list("status", flat=True)) == set(LeadStatus.values)
    converted = Lead.objects.filter(status=LeadStatus.CONVERTED)
    assert all(lead.customer_id for lead in converted)
    closed = Lead.objects.filter(status__in=[LeadStatus.PENDING_REVIEW, LeadStatus.CLOSED])
    assert all(lead.invalid_reason for lead in closed)
    assigned = Lead.objects.exclude(status=LeadStatus.POOL)
    assert all(lead.assignee and lead.assignee.role == "sales" for lead in assigned)


def test_no_leads_without_someone_to_capture_and_work_them() -> None:
    users = [user for user in ensure_demo_users() if user.role != "marketing"]
    assert generate_leads(count=5, seed=3, users=users) == 0
