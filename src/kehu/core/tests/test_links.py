"""Absolute links (``kehu.core.links``): the address comes from KEHU_BASE_URL, else the admin
setting ``system.base_url``, else the request; every link that leaves the browser uses it."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone
from icalendar import Calendar

from kehu.core import config, links
from kehu.core.env import ConfigurationError, env_base_url
from kehu.core.errors import InvalidInput
from kehu.core.models import SystemSetting
from kehu.core.testing.factories import Organisation
from kehu.followups import services as followups
from kehu.followups.models import CalendarFeed
from kehu.followups.tests.factories import make_customer
from kehu.notifications import services as notifications
from kehu.notifications.models import Delivery, DeliveryStatus
from kehu.notifications.tests.servers import robot_server, smtp_server
from kehu.service.models import Survey
from kehu.service.services.surveys import survey_url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_settings() -> Any:
    config.clear_cache()
    yield
    config.clear_cache()


@pytest.fixture
def smtp(settings: Any) -> Any:
    with smtp_server() as (mailbox, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        yield mailbox


def test_the_environment_wins_over_the_setting(settings: Any) -> None:
    settings.BASE_URL = ""
    assert links.absolute("/customers/1/") == "/customers/1/"
    assert links.base_url_source() == ""
    config.put("system.base_url", "https://crm.example.cn/")
    assert links.absolute("/customers/1/") == "https://crm.example.cn/customers/1/"
    assert links.base_url_source() == "setting"
    settings.BASE_URL = "https://kehu.corp.cn/crm"
    assert links.absolute("/customers/1/") == "https://kehu.corp.cn/crm/customers/1/"
    assert links.base_url_source() == "environment"
    # an absolute URL is kept as it is
    assert links.absolute("https://other.cn/x") == "https://other.cn/x"


def test_a_request_serves_when_nothing_is_configured(settings: Any) -> None:
    settings.BASE_URL = ""
    request = RequestFactory().get("/", HTTP_HOST="localhost:8000")
    assert links.absolute("/a/", request=request) == "http://localhost:8000/a/"
    config.put("system.base_url", "https://crm.example.cn")
    # behind a proxy the request may name an internal host: the configured address wins
    assert links.absolute("/a/", request=request) == "https://crm.example.cn/a/"


def test_a_setting_that_is_no_address_is_refused_and_ignored(settings: Any) -> None:
    settings.BASE_URL = ""
    with pytest.raises(InvalidInput) as refused:
        config.put("system.base_url", "crm.example.cn")
    assert "system.base_url" in refused.value.errors
    # a value stored before the check existed (or written around it) is still ignored
    SystemSetting.objects.create(key="system.base_url", value="crm.example.cn")
    config.clear_cache()
    assert links.base_url() == ""
    assert links.absolute("/a/") == "/a/"
    assert "KEHU_BASE_URL" in links.startup_warning()


@pytest.mark.parametrize(
    "value", ["crm.example.cn", "ftp://crm.example.cn", "https://crm.cn/?a=1", "http://h:x/"]
)
def test_the_environment_variable_is_checked_at_start(value: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("KEHU_BASE_URL", value)
    with pytest.raises(ConfigurationError, match="KEHU_BASE_URL"):
        env_base_url("KEHU_BASE_URL")
    monkeypatch.setenv("KEHU_BASE_URL", "https://crm.example.cn:8443/kehu/")
    assert env_base_url("KEHU_BASE_URL") == "https://crm.example.cn:8443/kehu"


def test_serve_warns_only_while_unset(settings: Any) -> None:
    settings.BASE_URL = ""
    assert "not set" in links.startup_warning()
    settings.BASE_URL = "https://crm.example.cn"
    assert links.startup_warning() == ""


def test_emails_and_robot_messages_carry_absolute_links(
    org: Organisation, smtp: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.BASE_URL = "https://crm.example.cn"
    org.rep.email = "rep@example.cn"
    org.rep.save()
    notifications.channel_create(actor=org.rep, kind="email")
    with robot_server() as (log, base):
        notifications.channel_create(actor=org.rep, kind="wecom", target=f"{base}/wecom/send")
        with django_capture_on_commit_callbacks(execute=True):
            notifications.notify(
                recipients=[org.rep], kind="t", title="新线索已分配", url="/leads/7/"
            )
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 2
    message = email.message_from_bytes(smtp.messages[0].content, policy=email.policy.default)
    assert "https://crm.example.cn/leads/7/" in message.get_content()
    assert "https://crm.example.cn/leads/7/" in log.requests[0]["json"]["markdown"]["content"]


def test_the_calendar_feed_links_to_the_configured_address(
    org: Organisation, settings: Any
) -> None:
    customer = make_customer(org.rep, name="杭州云帆科技有限公司")
    task = followups.task_create(
        actor=None,
        assignee=org.rep,
        title="回访",
        due_at=timezone.now() + timedelta(days=1),
        customer=customer,
    )
    feed, _created = CalendarFeed.objects.get_or_create(user=org.rep)
    settings.BASE_URL = ""
    config.put("system.base_url", "https://crm.example.cn")
    response = Client(HTTP_HOST="127.0.0.1").get(f"/followups/feed/{feed.token}.ics")
    (event,) = Calendar.from_ical(response.content).walk("VEVENT")
    assert str(event["url"]) == f"https://crm.example.cn/followups/tasks/{task.pk}/"
    client = Client()
    client.force_login(org.rep)
    page = client.get("/followups/calendar/feed/").content.decode()
    assert f"https://crm.example.cn/followups/feed/{feed.token}.ics" in page


def test_survey_links_fall_back_to_the_base_url(settings: Any) -> None:
    survey = Survey(pk=5, nonce="abc")
    settings.BASE_URL = "https://crm.example.cn"
    assert survey_url(survey, 3).startswith("https://crm.example.cn/service/survey/")
    config.put("service.survey_base_url", "https://survey.example.cn/")
    assert survey_url(survey).startswith("https://survey.example.cn/service/survey/")
