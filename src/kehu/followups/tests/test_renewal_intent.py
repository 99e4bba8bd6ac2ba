"""续约意向 on follow-ups: recorded through the API and the form, shown on the timeline, and
a value that is not one of the choices refused field by field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.testing.factories import Organisation, api_client
from kehu.followups.models import FollowUp
from kehu.followups.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def post(client: Any, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/followups", json.dumps(body), content_type="application/json")


def test_api_records_and_returns_the_renewal_intent(org: Organisation) -> None:
    customer = make_customer(org.rep)
    client = api_client(org.rep)
    body = {"customer_id": customer.pk, "method": "phone", "content": "谈续约"}
    response = post(client, {**body, "renewal_intent": "undecided"})
    assert response.status_code == 201, response.content
    assert response.json()["renewal_intent"] == "undecided"
    assert FollowUp.objects.get(pk=response.json()["id"]).renewal_intent == "undecided"
    blank = post(client, body)
    assert blank.status_code == 201
    assert blank.json()["renewal_intent"] == ""


def test_api_refuses_an_unknown_renewal_intent(org: Organisation) -> None:
    customer = make_customer(org.rep)
    response = post(
        api_client(org.rep),
        {"customer_id": customer.pk, "method": "phone", "content": "x", "renewal_intent": "maybe"},
    )
    assert response.status_code == 422
    assert "renewal_intent" in response.json()["errors"]
    assert not FollowUp.objects.exists()


def test_form_records_it_and_the_timeline_shows_it(org: Organisation) -> None:
    customer = make_customer(org.rep)
    client = Client()
    client.force_login(org.rep)
    response = client.post(
        reverse("followups:followup_log", args=[customer.pk]),
        {
            "occurred_at": "2026-01-05T10:00",
            "method": "visit",
            "content": "客户表示明年预算收紧",
            "sentiment": "neutral",
            "renewal_intent": "unlikely",
        },
    )
    assert response.status_code in (200, 302), response.content
    followup = FollowUp.objects.get(customer=customer)
    assert followup.renewal_intent == "unlikely"
    timeline = client.get(reverse("followups:customer_timeline", args=[customer.pk]))
    assert 'data-renewal-intent="unlikely"' in timeline.content.decode()
