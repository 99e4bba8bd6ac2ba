"""/api/v1/tickets: list with filters and constant queries, create, actions, JSON errors."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kehu.core.testing.factories import Organisation, api_client
from kehu.service.models import MessageKind, Ticket, TicketMessage, TicketStatus
from kehu.service.services import tickets as services
from kehu.service.tests.tickets_support import Desk, make_desk, raise_ticket

pytestmark = pytest.mark.django_db
BASE = "/api/v1/tickets"


@pytest.fixture
def desk(org: Organisation) -> Desk:
    return make_desk(org)


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def test_create_and_read(desk: Desk) -> None:
    client = api_client(desk.agent)
    response = post(
        client,
        BASE,
        {
            "subject": "无法登录",
            "content": "提示密码错误",
            "customer_id": desk.customer.pk,
            "contact_id": desk.contact.pk,
            "ticket_type": "support",
            "priority": "high",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("T")
    assert body["status"] == "assigned"  # to the specialist the customer was handed to
    assert body["assignee_id"] == desk.agent.pk
    assert body["channel"] == "api"
    assert body["customer_name"] == desk.customer.name
    assert body["sla_state"] in {"on_track", "warning"}
    assert body["sla_minutes_left"] is not None
    detail = client.get(f"{BASE}/{body['id']}").json()
    assert detail == body


def test_create_bad_input_is_422_and_writes_nothing(desk: Desk) -> None:
    client = api_client(desk.agent)
    response = post(client, BASE, {"subject": "", "content": "x", "priority": "urgent"})
    assert response.status_code == 422
    assert "errors" in response.json()
    response = post(client, BASE, {"subject": "a", "content": "b", "customer_id": 999999})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_customer"
    other, _contact = desk.customer, None
    response = post(
        api_client(desk.other_team_agent),
        BASE,
        {"subject": "a", "content": "b", "customer_id": other.pk},
    )
    assert response.status_code == 422
    assert not Ticket.objects.exists()


def test_marketing_may_not_raise_tickets(desk: Desk) -> None:
    response = post(api_client(desk.org.marketing), BASE, {"subject": "a", "content": "b"})
    assert response.status_code == 403


def test_actions_flow(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    client = api_client(desk.agent)
    url = f"{BASE}/{ticket.pk}"
    answer = post(client, f"{url}/assign", {"assignee_id": desk.agent2.pk, "version": 1})
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "assigned"
    version = answer.json()["version"]
    stale = post(client, f"{url}/status", {"status": "in_progress", "version": version - 1})
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    answer = post(client, f"{url}/status", {"status": "waiting", "version": version})
    assert answer.json()["status"] == "waiting"
    assert answer.json()["sla_state"] == "paused"
    note = post(client, f"{url}/note", {"body": "等客户回电"})
    assert note.status_code == 201
    assert note.json()["kind"] == "note"
    later = timezone.now() + timedelta(days=2)
    refused = post(client, f"{url}/replan", {"reason": "", "promised_resolution_at": later})
    assert refused.status_code == 422
    assert refused.json()["code"] == "reason_required"
    answer = post(client, f"{url}/replan", {"reason": "备件缺货", "promised_resolution_at": later})
    assert answer.status_code == 200
    answer = post(client, f"{url}/status", {"status": "resolved"})
    assert answer.json()["status"] == "resolved"
    refused = post(client, f"{url}/status", {"status": "waiting"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid_transition"
    answer = post(client, f"{url}/reopen", {"reason": "客户说还没好"})
    assert answer.json()["status"] == "in_progress"
    patch = client.patch(
        url,
        json.dumps({"version": answer.json()["version"], "priority": "low"}),
        content_type="application/json",
    )
    assert patch.status_code == 200
    assert patch.json()["priority"] == "low"
    events = client.get(f"{url}/events").json()
    kinds = [event["kind"] for event in events["items"]]
    assert kinds[0] == "created"
    assert "replanned" in kinds
    assert "reopened" in kinds
    assert events["count"] == len(kinds)
    messages = client.get(f"{url}/messages").json()
    assert [m["kind"] for m in messages["items"]] == ["inbound", "note"]


def test_reply_to_closed_ticket_is_409_and_nothing_written(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    services.ticket_set_status(actor=desk.agent, ticket=ticket, status="closed")
    response = post(api_client(desk.agent), f"{BASE}/{ticket.pk}/reply", {"body": "您好"})
    assert response.status_code == 409
    assert response.json()["code"] == "ticket_closed"
    assert not TicketMessage.objects.filter(kind=MessageKind.REPLY).exists()


def test_merge_and_link_customer(desk: Desk) -> None:
    target = raise_ticket(desk)
    duplicate = raise_ticket(desk)
    client = api_client(desk.agent)
    answer = post(client, f"{BASE}/{duplicate.pk}/merge", {"into_id": target.pk})
    assert answer.status_code == 200
    assert answer.json()["id"] == target.pk
    assert client.get(f"{BASE}/{duplicate.pk}").json()["merged_into_id"] == target.pk
    assert client.get(f"{BASE}/{target.pk}/messages").json()["count"] == 2
    triage = services.ticket_create(
        actor=None,
        data={"subject": "询价", "content": "请联系"},
        channel="email",
        requester_email="new@example.com",
        department=desk.team_a,
    )
    answer = post(client, f"{BASE}/{triage.pk}/link-customer", {"customer_id": desk.customer.pk})
    assert answer.status_code == 200
    assert answer.json()["customer_id"] == desk.customer.pk


def test_scope_over_the_api(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    for outsider in (desk.other_team_agent, desk.org.colleague, desk.org.marketing):
        client = api_client(outsider)
        assert client.get(f"{BASE}/{ticket.pk}").status_code == 404
        assert post(client, f"{BASE}/{ticket.pk}/note", {"body": "x"}).status_code == 404
        assert client.get(BASE).json()["count"] == 0
    rep = api_client(desk.org.rep)
    assert rep.get(f"{BASE}/{ticket.pk}").status_code == 200
    assert rep.get(BASE).json()["count"] == 1
    assert post(rep, f"{BASE}/{ticket.pk}/note", {"body": "x"}).status_code == 403


def test_list_filters_and_constant_queries(desk: Desk, django_assert_max_num_queries: Any) -> None:
    client = api_client(desk.service_manager)
    for number in range(3):
        raise_ticket(desk, priority="low" if number else "high", assignee=desk.agent.pk)
    client.get(BASE)  # warm the token and config caches
    with django_assert_max_num_queries(8):
        small = client.get(BASE).json()
    for _number in range(12):
        raise_ticket(desk, priority="medium", assignee=desk.agent2.pk)
    with django_assert_max_num_queries(8):
        big = client.get(BASE).json()
    assert small["count"] == 3
    assert big["count"] == 15
    agent = api_client(desk.agent)
    assert agent.get(BASE, {"tab": "mine"}).json()["count"] == 3
    assert agent.get(BASE, {"priority": "high"}).json()["count"] == 1
    assert agent.get(BASE, {"limit": 5, "offset": 10}).json()["count"] == 15
    assert len(agent.get(BASE, {"limit": 5, "offset": 10}).json()["items"]) == 5
    assert agent.get(BASE, {"tab": "triage"}).json()["count"] == 0
    assert agent.get(BASE, {"status": "assigned"}).json()["count"] == 15
    assert agent.get(BASE, {"sla": "overdue"}).json()["count"] == 0
    assert agent.get(BASE, {"limit": 0}).status_code == 422
    first = Ticket.objects.order_by("id").first()
    assert first is not None
    found = agent.get(BASE, {"q": first.number}).json()
    assert [row["number"] for row in found["items"]] == [first.number]
    assert found["count"] == 1
    assert agent.get(BASE, {"q": "设备报警", "limit": 2}).json()["count"] == 15


def test_bad_status_value_is_422(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    response = post(api_client(desk.agent), f"{BASE}/{ticket.pk}/status", {"status": "done"})
    assert response.status_code == 422
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ASSIGNED
