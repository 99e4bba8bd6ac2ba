"""The public ticket form at /service/forms/<slug>/: no login, CSRF, honeypot, rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from kehu.core import config
from kehu.core.testing.factories import Organisation
from kehu.service.models import Ticket, TicketChannel, TicketWebForm
from kehu.service.tests.tickets_support import Desk, make_desk

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def desk(org: Organisation) -> Desk:
    return make_desk(org)


@pytest.fixture
def web_form(desk: Desk) -> TicketWebForm:
    return TicketWebForm.objects.create(
        name="在线报修", slug="repair", department=desk.team_a, default_type="support"
    )


def submission(**values: Any) -> dict[str, Any]:
    return {
        "name": "王经理",
        "email": "Wang@Example.cn",
        "company": "苏州精密",
        "phone": "13800000000",
        "ticket_type": "support",
        "subject": "主轴报警",
        "content": "设备显示 E21 报警。",
        **values,
    }


def url(form: TicketWebForm) -> str:
    return reverse("service:public_ticket_form", args=[form.slug])


def test_form_makes_a_web_ticket_for_the_contacts_customer(
    client: Client, web_form: TicketWebForm, desk: Desk
) -> None:
    page = client.get(url(web_form))
    assert page.status_code == 200
    assert 'name="website"' in page.content.decode()  # the honeypot

    answer = client.post(url(web_form), submission())

    assert answer.status_code == 200
    ticket = Ticket.objects.get()
    assert 'id="public-thanks"' in answer.content.decode()
    assert ticket.number in answer.content.decode()
    assert ticket.channel == TicketChannel.WEB_FORM
    assert ticket.customer == desk.customer
    assert ticket.contact == desk.contact
    assert ticket.requester_email == "wang@example.cn"
    assert ticket.department == desk.team_a
    assert ticket.ticket_type == "support"
    assert "苏州精密" in ticket.content
    assert "13800000000" in ticket.content


def test_unknown_address_lands_in_triage_and_thank_you_text(
    client: Client, web_form: TicketWebForm
) -> None:
    web_form.thank_you = "谢谢，我们会在两小时内回复。"
    web_form.save()
    answer = client.post(url(web_form), submission(email="new@unknown.example"))
    assert "谢谢，我们会在两小时内回复。" in answer.content.decode()
    assert Ticket.objects.get().customer is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"subject": ""}, "subject"),
        ({"content": ""}, "content"),
        ({"name": ""}, "name"),
        ({"ticket_type": "nonsense"}, "ticket_type"),
        ({"content": "长" * 5001}, "content"),
    ],
)
def test_bad_input_gets_form_errors_and_stores_nothing(
    client: Client, web_form: TicketWebForm, values: dict[str, Any], field: str
) -> None:
    answer = client.post(url(web_form), submission(**values))
    assert answer.status_code == 422
    assert f'id="id_{field}"' in answer.content.decode()
    assert "is-invalid" in answer.content.decode() or "invalid-feedback" in answer.content.decode()
    assert not Ticket.objects.exists()


def test_honeypot_is_answered_like_success_but_stores_nothing(
    client: Client, web_form: TicketWebForm
) -> None:
    answer = client.post(url(web_form), submission(website="http://spam.example"))
    assert answer.status_code == 200
    assert 'id="public-thanks"' in answer.content.decode()
    assert not Ticket.objects.exists()


def test_flood_from_one_address_is_rate_limited(client: Client, web_form: TicketWebForm) -> None:
    config.put("leads.webform_rate_limit", 2)
    for _ in range(2):
        assert client.post(url(web_form), submission()).status_code == 200
    answer = client.post(url(web_form), submission())
    assert answer.status_code == 429
    assert 'id="public-error"' in answer.content.decode()
    assert Ticket.objects.count() == 2


def test_csrf_is_required(web_form: TicketWebForm) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(url(web_form), submission()).status_code == 403
    page = strict.get(url(web_form))
    token = page.cookies["csrftoken"].value
    answer = strict.post(url(web_form), {**submission(), "csrfmiddlewaretoken": token})
    assert answer.status_code == 200
    assert Ticket.objects.count() == 1


def test_inactive_or_unknown_form_is_404(client: Client, web_form: TicketWebForm) -> None:
    assert client.get("/service/forms/nothing-here/").status_code == 404
    web_form.is_active = False
    web_form.save()
    assert client.get(url(web_form)).status_code == 404
    assert client.post(url(web_form), submission()).status_code == 404
    assert not Ticket.objects.exists()


def test_ticket_form_pages(client: Client, org: Organisation) -> None:
    client.force_login(org.admin)
    bad = client.post(reverse("service:ticket_forms"), {"name": "报修", "slug": "Bad Slug"})
    assert bad.status_code == 200
    assert not TicketWebForm.objects.exists()
    made = client.post(
        reverse("service:ticket_forms"), {"name": "报修", "slug": "repair", "is_active": "on"}
    )
    assert made.status_code == 302
    form = TicketWebForm.objects.get()
    detail = client.get(reverse("service:ticket_form", args=[form.pk]))
    assert "/service/forms/repair/" in detail.content.decode()
    assert client.get(reverse("service:ticket_forms")).status_code == 200
    deleted = client.post(reverse("service:ticket_form", args=[form.pk]), {"action": "delete"})
    assert deleted.status_code == 302
    assert not TicketWebForm.objects.exists()


def test_public_form_in_chinese(client: Client, web_form: TicketWebForm) -> None:
    page = client.get(url(web_form), HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page.content.decode()
    assert "请描述您的问题或需求" in text
    assert "提交" in text
    answer = client.post(url(web_form), submission(), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "谢谢！我们已收到您的请求" in answer.content.decode()
