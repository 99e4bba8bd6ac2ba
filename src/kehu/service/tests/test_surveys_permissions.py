"""Who may reach the surveys and the service reports (``kehu.core.testing.permissions``).

A survey is in the scope of its ticket: the ticket of 上海组's rep's customer, assigned to the
``service`` user. The public answer page /service/survey/<token>/ takes no login by design:
its token is the secret (test_surveys.py checks forged, expired and used links).
The lists and reports take no object: every signed-in role reaches them, scoped row by row
(test_reports.py); ``LISTS`` checks the signed-in and anonymous answers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, cases, run
from kehu.service.models import Survey, Ticket
from kehu.service.tests.tickets_support import make_customer

EVERYONE = ("admin", "east_manager", "south_manager", "rep", "south_rep", "service", "marketing")


def answered_survey(org: Organisation) -> dict[str, Any]:
    customer, contact = make_customer(org.rep)
    now = timezone.now()
    ticket = Ticket.objects.create(
        number="T9990000001",
        customer=customer,
        contact=contact,
        subject="主轴报警",
        content="主轴温度过高",
        assignee=org.service,
        status="resolved",
        resolved_at=now,
        satisfaction=4,
    )
    survey = Survey.objects.create(
        ticket=ticket,
        customer=customer,
        nonce="n" * 32,
        sent_to=contact.email,
        expires_at=now + timedelta(days=14),
        answered_at=now,
        score=4,
    )
    return {"survey_id": survey.pk}


def nothing(org: Organisation) -> dict[str, Any]:
    return {}


TABLE: list[Endpoint] = [
    Endpoint(
        "GET /surveys/{survey_id}",
        answered_survey,
        may=("service", "rep", "east_manager", "admin"),
        out_of_scope=("south_rep", "colleague", "hangzhou_rep", "south_manager", "marketing"),
    ),
]

LISTS: list[Endpoint] = [
    Endpoint(target, nothing, may=EVERYONE, out_of_scope=())
    for target in (
        "GET /surveys",
        "GET /reports/service/problems",
        "GET /reports/service/keywords",
        "GET /reports/service/sla",
        "GET /reports/service/times",
        "GET /reports/service/satisfaction",
        "GET service:reports",
    )
]


@pytest.mark.django_db
@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE + LISTS))
def test_permissions(
    entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest
) -> None:
    run(entry, kind, actor, request)
