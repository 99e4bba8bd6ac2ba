"""Robot webhooks cannot make the server call its own network (core.outbound): refused when a
channel is saved and again at each send; redirects are not followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from kehu.core import outbound
from kehu.core.errors import InvalidInput
from kehu.core.testing.factories import Organisation, api_client
from kehu.notifications import channels, services
from kehu.notifications.models import Channel, Delivery, DeliveryStatus
from kehu.notifications.tests.servers import robot_server

pytestmark = pytest.mark.django_db

INTERNAL = [
    "http://127.0.0.1:8000/hook",
    "http://127.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://10.1.2.3/robot/send",
    "http://192.168.1.20/robot/send",
    "http://172.16.0.9/robot/send",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
    "http://localhost:6379/",  # a name that resolves to loopback
]
NOT_HTTP = ["file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1:6379/_x", "http:///x"]


@pytest.fixture(autouse=True)
def _guarded(settings: Any) -> None:
    settings.ALLOW_PRIVATE_WEBHOOKS = False


@pytest.mark.parametrize("url", INTERNAL + NOT_HTTP)
def test_internal_addresses_and_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url(url)
    with pytest.raises(outbound.OutboundRefused):
        outbound.post_json(url, {}, timeout=1)


def test_a_public_address_is_allowed() -> None:
    parsed, address = outbound.check_url("https://93.184.216.34/robot/send?key=x")
    assert str(address) == "93.184.216.34"
    assert parsed.path == "/robot/send"


def test_the_setting_allows_internal_receivers(settings: Any) -> None:
    settings.ALLOW_PRIVATE_WEBHOOKS = True
    assert str(outbound.check_url("http://127.0.0.1:9/x")[1]) == "127.0.0.1"
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url("file:///etc/passwd")  # the scheme is checked all the same


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/", "http://169.254.169.254/", "http://localhost/"]
)
def test_saving_a_channel_on_an_internal_address_is_a_field_error(
    org: Organisation, url: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.channel_create(actor=org.rep, kind="wecom", target=url)
    assert list(refused.value.errors) == ["target"]
    answer = api_client(org.rep).post(
        "/api/v1/notifications/channels",
        {"kind": "dingtalk", "target": url},
        content_type="application/json",
    )
    assert answer.status_code == 422
    assert "target" in answer.json()["errors"]
    browser = Client()
    browser.force_login(org.rep)
    page = browser.post("/notifications/channels/", {"kind": "feishu", "target": url})
    assert page.status_code == 422
    assert page.context["form"].errors["target"]
    assert not Channel.objects.exists()


def test_a_name_that_does_not_resolve_may_be_saved(org: Organisation) -> None:
    # Checked again at each send; saving must not depend on the server's DNS at that moment.
    target = "https://robot.invalid/send?key=x"
    assert services.channel_create(actor=org.rep, kind="wecom", target=target).target == target
    with pytest.raises(channels.DeliveryError, match="refused"):
        channels.send_wecom(url=target, subject="s", text="t")


def test_the_address_is_checked_again_at_send_time(
    org: Organisation, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with robot_server() as (log, base):
        services.channel_create(actor=org.rep, kind="wecom", target=f"{base}/wecom/send")
        settings.ALLOW_PRIVATE_WEBHOOKS = False  # what a changed DNS answer looks like
        with django_capture_on_commit_callbacks(execute=True):
            services.notify(recipients=[org.rep], kind="t", title="提醒")
    assert log.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING
    assert "refused" in delivery.last_error


@contextmanager
def redirecting_server(location: str) -> Iterator[tuple[list[str], str]]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield hits, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_redirects_are_not_followed(settings: Any) -> None:
    settings.ALLOW_PRIVATE_WEBHOOKS = True  # the first hop is a local test receiver
    with (
        robot_server() as (target_log, target),
        redirecting_server(f"{target}/wecom") as (
            hits,
            base,
        ),
    ):
        response = outbound.post_json(f"{base}/hook", {"a": 1}, timeout=5)
        assert response.status_code == 302
        with pytest.raises(channels.DeliveryError, match="redirects are not followed"):
            channels.send_wecom(url=f"{base}/hook", subject="s", text="t")
    assert hits == ["/hook", "/hook"]
    assert target_log.requests == []
