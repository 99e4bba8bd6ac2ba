"""Satisfaction surveys: sent on resolution through a real SMTP server, answered once from the
link without logging in; forged, expired and used links are refused with nothing written."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.utils import timezone

from kehu.core import config
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.grading import gather_inputs
from kehu.customers.services import customer_recompute_grades
from kehu.notifications.tests.servers import smtp_server
from kehu.service.models import Survey, Ticket, TicketEvent, TicketEventKind
from kehu.service.selectors.surveys import customer_satisfaction, satisfaction_averages
from kehu.service.services import surveys
from kehu.service.services import tickets as ticket_services
from kehu.service.tests.tickets_support import Desk, make_desk, raise_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(org: Organisation) -> Desk:
    return make_desk(org)


@pytest.fixture
def smtp(settings: Any) -> Iterator[Any]:
    with smtp_server() as (mailbox, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        yield mailbox


def resolve(desk: Desk, ticket: Ticket, capture: Any) -> Ticket:
    with capture(execute=True):
        return ticket_services.ticket_set_status(actor=desk.agent, ticket=ticket, status="resolved")


def resolved_survey(desk: Desk, capture: Any, **data: Any) -> tuple[Ticket, Survey]:
    ticket = resolve(desk, raise_ticket(desk, **data), capture)
    return ticket, Survey.objects.filter(ticket=ticket).latest("id")


def written(ticket: Ticket) -> tuple[Any, ...]:
    """What an answer would change, to compare before and after a refused one."""
    ticket.refresh_from_db()
    events = TicketEvent.objects.filter(ticket=ticket, kind=TicketEventKind.SURVEYED).count()
    answers = list(Survey.objects.filter(ticket=ticket).values_list("score", "answered_at"))
    return ticket.satisfaction, ticket.version, events, answers


def test_resolving_mails_the_survey_link_that_works_once(
    desk: Desk, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    config.put("service.survey_base_url", "https://crm.example.cn/")
    ticket = resolve(desk, raise_ticket(desk), django_capture_on_commit_callbacks)
    survey = Survey.objects.get(ticket=ticket)
    assert survey.customer == desk.customer
    assert survey.sent_to == "wang@example.cn"
    assert survey.expires_at - survey.sent_at == timedelta(days=14)
    # The e-mail went through the SMTP server, with one link per score.
    assert len(smtp.messages) == 1
    envelope = smtp.messages[0]
    assert envelope.rcpt_tos == ["wang@example.cn"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert ticket.number in message["Subject"]
    assert "请评价我们的服务" in message["Subject"]  # zh-hans, the installation's language
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    links = re.findall(r"https://crm\.example\.cn/service/survey/[^\s\"?]+/\?score=[1-5]", text)
    assert [link[-1] for link in links] == ["1", "2", "3", "4", "5"]
    assert all(link.replace("&", "&amp;") in html or link in html for link in links)

    # The customer clicks "4" in the mail: no login, the score pre-selected, nothing written.
    parts = urlsplit(links[3])
    anonymous = Client(enforce_csrf_checks=True)
    page = anonymous.get(parts.path, {"score": "4"})
    assert page.status_code == 200
    body = page.content.decode()
    assert re.search(r'id="score-4" value="4"[^>]*checked', body)
    assert not re.search(r'id="score-3" value="3"[^>]*checked', body)
    assert "请评价我们的服务" in body
    assert Survey.objects.get(pk=survey.pk).answered_at is None

    csrf = anonymous.cookies["csrftoken"].value
    answer = anonymous.post(
        parts.path, {"score": "4", "comment": "响应很快，谢谢！", "csrfmiddlewaretoken": csrf}
    )
    assert answer.status_code == 200
    assert 'id="survey-thanks"' in answer.content.decode()
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "响应很快，谢谢！")
    assert survey.answered_at is not None
    ticket.refresh_from_db()
    assert ticket.satisfaction == 4
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEventKind.SURVEYED)
    assert event.data["score"] == 4
    average, trend = customer_satisfaction(desk.customer)
    assert average == 4.0
    assert [(point.average, point.count) for point in trend] == [(4.0, 1)]

    # The same link again: refused, 409, nothing written.
    before = written(ticket)
    again = anonymous.post(parts.path, {"score": "1", "csrfmiddlewaretoken": csrf})
    assert again.status_code == 409
    assert 'id="survey-refused"' in again.content.decode()
    assert "该调查已提交过" in again.content.decode()
    assert written(ticket) == before
    assert anonymous.get(parts.path).status_code == 409


def test_forged_links_are_refused_and_write_nothing(
    desk: Desk, django_capture_on_commit_callbacks: Any
) -> None:
    ticket, survey = resolved_survey(desk, django_capture_on_commit_callbacks)
    token = surveys.survey_token(survey)
    before = written(ticket)
    forged = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature broken
        signing.dumps([survey.pk, "0" * 32], salt=surveys.TOKEN_SALT),  # not the row's nonce
        signing.dumps([survey.pk, survey.nonce], salt="another.salt"),  # another signer
        signing.dumps([survey.pk + 1000, survey.nonce], salt=surveys.TOKEN_SALT),  # no survey
        signing.dumps({"id": survey.pk}, salt=surveys.TOKEN_SALT),  # not our shape
        "nonsense",
    ]
    client = Client()
    for bad in forged:
        response = client.post(f"/service/survey/{bad}/", {"score": "5"})
        assert response.status_code == 400, bad
        assert "survey_invalid" in response.content.decode()
        with pytest.raises(surveys.SurveyLinkInvalid):
            surveys.survey_answer(token=bad, score=5, comment="")
    assert written(ticket) == before


def test_expired_link_is_refused(desk: Desk, django_capture_on_commit_callbacks: Any) -> None:
    config.put("service.survey_valid_days", 3)
    ticket, survey = resolved_survey(desk, django_capture_on_commit_callbacks)
    assert survey.expires_at - survey.sent_at == timedelta(days=3)
    path = surveys.survey_path(survey)
    before = written(ticket)
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1)):
        client = Client()
        assert client.get(path).status_code == 410
        response = client.post(path, {"score": "5"})
        assert response.status_code == 410
        assert "survey_expired" in response.content.decode()
        with pytest.raises(surveys.SurveyExpired):
            surveys.survey_answer(token=surveys.survey_token(survey), score=5)
    assert written(ticket) == before


@pytest.mark.parametrize(
    ("score", "comment", "field"),
    [
        ("0", "", "score"),
        ("6", "", "score"),
        ("", "", "score"),
        ("x", "", "score"),
        ("3", "长" * 2001, "comment"),
    ],
)
def test_bad_answer_is_a_form_error_and_writes_nothing(
    desk: Desk, django_capture_on_commit_callbacks: Any, score: str, comment: str, field: str
) -> None:
    ticket, survey = resolved_survey(desk, django_capture_on_commit_callbacks)
    before = written(ticket)
    response = Client().post(surveys.survey_path(survey), {"score": score, "comment": comment})
    assert response.status_code == 422
    assert 'id="survey-error"' in response.content.decode()
    assert written(ticket) == before
    # The link still works afterwards.
    assert surveys.survey_answer(token=surveys.survey_token(survey), score=2).score == 2


def test_resolving_again_replaces_the_open_link(
    desk: Desk, django_capture_on_commit_callbacks: Any
) -> None:
    ticket, first = resolved_survey(desk, django_capture_on_commit_callbacks)
    ticket = ticket_services.ticket_reopen(actor=desk.agent, ticket=ticket, reason="仍报警")
    ticket = resolve(desk, ticket, django_capture_on_commit_callbacks)
    second = Survey.objects.filter(ticket=ticket).latest("id")
    assert second.pk != first.pk
    with pytest.raises(surveys.SurveyExpired):
        surveys.survey_from_token(surveys.survey_token(first))
    assert surveys.survey_from_token(surveys.survey_token(second)) == second


def test_a_resolution_recorded_past_the_survey_time_sends_none(
    desk: Desk, django_capture_on_commit_callbacks: Any
) -> None:
    """An imported ticket resolved 40 days ago: its survey's answering time (14 days) is
    over, so no survey goes out; one resolved 3 days ago still gets one."""
    for days, surveyed in ((40, False), (3, True)):
        ticket = raise_ticket(desk, raised_at=timezone.now() - timedelta(days=days + 1))
        with django_capture_on_commit_callbacks(execute=True):
            ticket_services.ticket_set_status(
                actor=desk.agent,
                ticket=ticket,
                status="resolved",
                at=timezone.now() - timedelta(days=days),
            )
        assert Survey.objects.filter(ticket=ticket).exists() is surveyed


def test_no_address_no_survey(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    Ticket.objects.filter(pk=ticket.pk).update(requester_email="")
    desk.contact.email = ""
    desk.contact.save()
    ticket.refresh_from_db()
    assert surveys.survey_send(ticket) is None
    assert not Survey.objects.exists()


def test_customer_average_and_trend(desk: Desk, django_capture_on_commit_callbacks: Any) -> None:
    scores = [5, 2, 4]
    for score in scores:
        _ticket, survey = resolved_survey(desk, django_capture_on_commit_callbacks)
        surveys.survey_answer(token=surveys.survey_token(survey), score=score, comment="")
    _ticket, _unanswered = resolved_survey(desk, django_capture_on_commit_callbacks)
    average, trend = customer_satisfaction(desk.customer)
    assert average == pytest.approx(3.67)
    assert len(trend) == 1
    assert trend[0].count == 3
    assert trend[0].as_dict()["month"] == timezone.localdate().strftime("%Y-%m")
    assert satisfaction_averages([desk.customer.pk, 999999]) == {desk.customer.pk: (3.67, 3)}


def test_a_low_satisfaction_keeps_a_customer_from_a_grade(
    desk: Desk, django_capture_on_commit_callbacks: Any
) -> None:
    """Grading reads the surveys' average: a rule with min_satisfaction passes over an
    unhappy customer, and a customer never surveyed is not held back."""
    rules = [
        {"grade": "A", "min_amount": 100000, "min_orders": 0, "min_satisfaction": 4},
        {"grade": "B", "min_amount": 100000, "min_orders": 0},
    ]
    config.put("customers.grade_rules", rules)
    desk.customer.annual_budget = 200000
    desk.customer.save(update_fields=["annual_budget"])
    customer_recompute_grades()
    desk.customer.refresh_from_db()
    assert desk.customer.grade == "A"  # no answers yet
    _ticket, survey = resolved_survey(desk, django_capture_on_commit_callbacks)
    surveys.survey_answer(token=surveys.survey_token(survey), score=2, comment="太慢了")
    assert gather_inputs([desk.customer])[desk.customer.pk].satisfaction == 2.0
    customer_recompute_grades()
    desk.customer.refresh_from_db()
    assert desk.customer.grade == "B"


def test_staff_list_is_scoped_by_the_ticket(
    desk: Desk, django_capture_on_commit_callbacks: Any, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        resolved_survey(desk, django_capture_on_commit_callbacks)
    client = api_client(desk.agent)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/surveys", {"answered": "false"})
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert {item["customer_id"] for item in data["items"]} == {desk.customer.pk}
    assert "nonce" not in data["items"][0]
    # Another team's agent does not see the tickets, so neither their surveys.
    assert api_client(desk.other_team_agent).get("/api/v1/surveys").json()["count"] == 0
    # The customer's sales owner sees the surveys of their customer's tickets.
    assert api_client(desk.org.rep).get("/api/v1/surveys").json()["count"] == 3
    assert api_client(desk.org.south_rep).get("/api/v1/surveys").json()["count"] == 0
    assert Client().get("/api/v1/surveys").status_code == 401
    bad = client.get("/api/v1/surveys", {"score": "9"})
    assert bad.status_code == 422
