from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from kehu.accounts.models import User
from kehu.core.testing.factories import Organisation, api_client
from kehu.notifications import services
from kehu.notifications.models import Channel, Delivery, Notification

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_badge_list_and_mark_read(org: Organisation, django_assert_max_num_queries: Any) -> None:
    for index in range(12):
        services.notify(recipients=[org.rep], kind="t", title=f"通知{index}", url="/followups/")
    services.notify(recipients=[org.colleague], kind="t", title="别人的通知")
    client = signed_in(org.rep)
    badge = client.get("/notifications/badge/").content.decode()
    assert 'id="notification-count"' in badge
    assert ">12<" in badge
    with django_assert_max_num_queries(10):
        page = client.get("/notifications/").content.decode()
    assert "通知11" in page
    assert "别人的通知" not in page
    first = Notification.objects.filter(recipient=org.rep).first()
    assert first is not None
    opened = client.post(f"/notifications/{first.pk}/read/", {"open": "1"})
    assert opened.status_code == 302
    assert opened["Location"] == "/followups/"
    other = Notification.objects.get(recipient=org.colleague)
    assert client.post(f"/notifications/{other.pk}/read/").status_code == 404
    unread = client.get("/notifications/", {"unread": "1"})
    assert unread.context["unread_only"] is True
    assert first not in unread.context["page"].object_list
    assert len(unread.context["page"].object_list) == 11
    # a hand-edited value is no filter, as it always was
    assert client.get("/notifications/", {"unread": "maybe"}).context["unread_only"] is False
    client.post("/notifications/read-all/")
    assert 'id="notification-count"' not in client.get("/notifications/badge/").content.decode()
    assert Notification.objects.get(recipient=org.colleague).read_at is None


def test_channels_page_rejects_bad_webhook(org: Organisation) -> None:
    client = signed_in(org.rep)
    response = client.post(
        "/notifications/channels/", {"kind": "feishu", "target": "file:///etc/passwd"}
    )
    assert response.status_code == 422
    assert response.context["form"].errors["target"]
    assert not Channel.objects.exists()
    ok = client.post(
        "/notifications/channels/",
        {"kind": "wecom", "target": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"},
    )
    assert ok.status_code == 302
    assert Channel.objects.filter(user=org.rep, kind="wecom").exists()


def test_delivery_log_is_for_admins(org: Organisation, settings: Any) -> None:
    settings.ALLOW_PRIVATE_WEBHOOKS = True  # a local receiver
    channel = services.channel_create(actor=org.rep, kind="wecom", target="http://127.0.0.1:9/x")
    Delivery.objects.create(
        channel=channel,
        subject="失败的消息",
        text="x",
        dedupe_key="d1",
        status="failed",
        attempts=5,
        last_error="ConnectError: refused",
    )
    assert signed_in(org.rep).get("/notifications/deliveries/").status_code == 404
    page = signed_in(org.admin).get("/notifications/deliveries/?status=failed").content.decode()
    assert "失败的消息" in page
    assert "ConnectError: refused" in page


@pytest.mark.parametrize("retry", ["", "abc", "²", "999999", "9" * 40])
def test_retrying_a_delivery_that_does_not_exist_is_404(org: Organisation, retry: str) -> None:
    # issue 34 (the UI fuzzer): these answered 500 (DoesNotExist, ValueError).
    response = signed_in(org.admin).post("/notifications/deliveries/", {"retry": retry})
    assert response.status_code == 404


def test_api(org: Organisation) -> None:
    services.notify(recipients=[org.rep], kind="t", title="一")
    services.notify(recipients=[org.rep], kind="t", title="二")
    client = api_client(org.rep)
    listing = client.get("/api/v1/notifications?unread=true").json()
    assert listing["count"] == 2
    assert client.get("/api/v1/notifications/unread-count").json() == {"unread": 2}
    first = listing["items"][0]["id"]
    assert client.post(f"/api/v1/notifications/{first}/read").json()["read_at"] is not None
    assert client.post("/api/v1/notifications/read-all").json() == {"unread": 0}
    bad = client.post(
        "/api/v1/notifications/channels",
        json.dumps({"kind": "dingtalk", "target": "ftp://x"}),
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "target" in bad.json()["errors"]
    good = client.post(
        "/api/v1/notifications/channels",
        json.dumps(
            {
                "kind": "dingtalk",
                "target": "https://oapi.dingtalk.com/robot/send?access_token=t",
                "secret": "SEC1",
            }
        ),
        content_type="application/json",
    )
    assert good.status_code == 201
    assert good.json()["has_secret"] is True
    assert "secret" not in good.json()
    other = api_client(org.colleague)
    assert other.delete(f"/api/v1/notifications/channels/{good.json()['id']}").status_code == 404
    assert client.delete(f"/api/v1/notifications/channels/{good.json()['id']}").status_code == 204


def test_badge_of_a_signed_out_browser_is_empty_and_sets_no_cookie() -> None:
    response = Client().get("/notifications/badge/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response.content == b""
    assert not response.cookies


def test_removing_someone_elses_channel_is_404(org: Organisation) -> None:
    channel = services.channel_create(
        actor=org.colleague, kind="dingtalk", target="https://oapi.dingtalk.com/robot/send"
    )
    response = signed_in(org.rep).post("/notifications/channels/", {"delete": channel.pk})
    assert response.status_code == 404
    assert Channel.objects.filter(pk=channel.pk).exists()
    url = f"/api/v1/notifications/channels/{channel.pk}"
    api = api_client(org.rep).delete(url, HTTP_ACCEPT_LANGUAGE="en")
    assert api.status_code == 404
    assert api.json() == {"detail": "Not found.", "code": "not_found"}
