"""Outbound webhooks against real local HTTP receivers: signed deliveries sent on commit,
nothing for a rollback, scope and masking of the payloads, retries with backoff, timeouts,
automatic disabling with an e-mail to the admins (a real SMTP sink), redelivery, bad input."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core import config, events
from kehu.core.errors import InvalidInput
from kehu.core.testing.deals import win
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customers
from kehu.customers.models import Customer
from kehu.customers.tests.factories import make_customer
from kehu.followups import services as followups
from kehu.integrations.models import WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription
from kehu.integrations.services import webhooks
from kehu.integrations.tests.receiver import Received, verify, webhook_receiver
from kehu.notifications.tests.servers import smtp_server
from kehu.opportunities.tests.factories import make_opportunity

pytestmark = pytest.mark.django_db

MOBILE = "13812345678"


@pytest.fixture
def internal() -> None:
    """The receivers listen on loopback: what the setting that allows internal ones is for."""
    config.put(webhooks.ALLOW_INTERNAL.key, True)


@pytest.fixture
def receiver(internal: None) -> Iterator[tuple[Received, str]]:
    with webhook_receiver() as (received, url):
        yield received, url


def subscribe(
    org: Organisation, url: str, received: Received, *, run_as: Any = None, names: Any = None
) -> WebhookSubscription:
    hook = webhooks.webhook_create(
        actor=org.admin,
        data={
            "name": "ERP",
            "url": url,
            "events": list(names or events.NAMES),
            "run_as": (run_as or org.admin).pk,
        },
    )
    received.secret = hook.secret
    return hook


def created(org: Organisation, capture: Any, **data: Any) -> Customer:
    with capture(execute=True):
        return customers.customer_create(
            actor=org.rep,
            data={"name": "上海瑞德机械有限公司", **data},
            contacts=[{"name": "张伟", "mobile": MOBILE, "is_primary": True}],
        )


def test_a_new_customer_is_delivered_signed(
    org: Organisation, receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    hook = subscribe(org, url, received)
    customer = created(org, django_capture_on_commit_callbacks)
    assert received.events == ["customer.created"]
    sent = received.deliveries[0]
    assert sent["verified"] is True
    assert verify("another secret", sent["headers"], sent["body"]) is False
    assert verify(hook.secret, sent["headers"], sent["body"] + b" ") is False
    payload = sent["json"]
    assert payload["object"] == {"type": "customer", "id": customer.pk}
    assert payload["data"]["name"] == "上海瑞德机械有限公司"
    assert payload["data"]["contacts"][0]["mobile"].endswith(MOBILE)  # the admin sees it all
    assert payload["actor_id"] == org.rep.pk
    assert sent["headers"]["X-Kehu-Event"] == "customer.created"
    assert sent["headers"]["X-Kehu-Event-Id"] == payload["id"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 200, 1)
    assert delivery.event_id == payload["id"]
    assert delivery.duration_ms is not None


def _create_and_fail(org: Organisation, name: str) -> None:
    with transaction.atomic():
        customers.customer_create(actor=org.rep, data={"name": name})
        raise RuntimeError("the write fails after the service")


def test_nothing_is_sent_for_a_rolled_back_transaction(
    org: Organisation, receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    subscribe(org, url, received)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        _create_and_fail(org, "回滚的客户")
    assert callbacks == []
    assert not Customer.objects.filter(name="回滚的客户").exists()
    assert received.deliveries == []
    assert not WebhookDelivery.objects.exists()


def test_a_rolled_back_savepoint_takes_only_its_own_events(
    org: Organisation, receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    subscribe(org, url, received)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        kept = customers.customer_create(actor=org.rep, data={"name": "保留的客户"})
        with pytest.raises(RuntimeError):
            _create_and_fail(org, "撤销的客户")
        customers.customer_update(
            actor=org.rep,
            customer=kept,
            changes={"address": "上海市浦东新区"},
            version=kept.version,
        )
    assert received.events == ["customer.created", "customer.updated"]
    assert {item["json"]["data"]["name"] for item in received.deliveries} == {"保留的客户"}
    assert received.deliveries[1]["json"]["changes"] == {"fields": ["address"]}


def test_payloads_follow_the_scope_and_masking_of_run_as(
    org: Organisation, receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    subscribe(org, url, received, run_as=org.south_rep)
    masked_hook = webhooks.webhook_create(
        actor=org.admin,
        data={
            "name": "营销",
            "url": url,
            "events": ["customer.created"],
            "run_as": org.marketing.pk,
        },
    )
    created(org, django_capture_on_commit_callbacks)
    # south_rep does not see the Shanghai rep's customer: nothing for that subscription
    assert [d.subscription_id for d in WebhookDelivery.objects.all()] == [masked_hook.pk]
    contact = received.deliveries[0]["json"]["data"]["contacts"][0]
    assert contact["masked"] is True
    assert MOBILE not in contact["mobile"]
    assert "****" in contact["mobile"]


def test_a_500_is_retried_with_backoff_and_never_blocks_the_write(
    org: Organisation, receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    subscribe(org, url, received, names=["customer.created"])
    received.answers = [500, 500]
    customer = created(org, django_capture_on_commit_callbacks)
    assert Customer.objects.filter(pk=customer.pk).exists()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.RETRYING
    assert (delivery.response_code, delivery.attempts) == (500, 1)
    assert "500" in delivery.error
    assert delivery.next_attempt_at is not None
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == 60.0  # 30 s, then 60 s
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 3, 200)
    assert len({item["json"]["id"] for item in received.deliveries}) == 1  # one event id
    assert WebhookSubscription.objects.get().consecutive_failures == 0


def test_a_receiver_that_times_out_is_logged_and_retried(
    org: Organisation, receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    subscribe(org, url, received, names=["customer.created"])
    config.put(webhooks.TIMEOUT.key, 1)
    received.delay = 1.5
    created(org, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.RETRYING
    assert delivery.response_code is None
    assert delivery.error == _("The receiver did not answer within %(seconds)s s.") % {
        "seconds": "1"
    }
    assert delivery.duration_ms is not None
    assert delivery.duration_ms >= 1000


def test_a_delivery_fails_after_the_last_attempt(
    org: Organisation, receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    subscribe(org, url, received, names=["customer.created"])
    config.put(webhooks.MAX_ATTEMPTS.key, 2)
    received.answers = [503, 503, 503]
    created(org, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None  # finished: not sent
    assert len(received.deliveries) == 2


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


def test_repeated_failures_switch_the_webhook_off_and_mail_the_admins(
    org: Organisation, receiver: Any, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    org.admin.email = "admin@example.cn"
    org.admin.save()
    hook = subscribe(org, url, received, names=["customer.created"])
    config.put(webhooks.DISABLE_AFTER.key, 3)
    received.answers = [500] * 10
    created(org, django_capture_on_commit_callbacks)
    first = WebhookDelivery.objects.get()
    assert webhooks.delivery_attempt(delivery_id=first.pk) is not None  # 2 in a row
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.delivery_attempt(delivery_id=first.pk) is None  # 3: switched off
    hook.refresh_from_db()
    assert hook.is_active is False
    assert hook.disabled_at is not None
    assert "3" in hook.disabled_reason
    first.refresh_from_db()
    assert first.status == WebhookDeliveryStatus.FAILED
    assert len(smtp.messages) == 1
    assert smtp.messages[0].rcpt_tos == ["admin@example.cn"]
    message = email.message_from_bytes(smtp.messages[0].content, policy=email.policy.default)
    assert "ERP" in message["Subject"]
    assert f"/integrations/webhooks/{hook.pk}/" in message.get_content()
    # an inactive webhook gets no new deliveries, and switching it on resets the count
    with django_capture_on_commit_callbacks(execute=True):
        customers.customer_create(actor=org.rep, data={"name": "第二个客户"})
    assert WebhookDelivery.objects.count() == 1
    hook = webhooks.webhook_update(
        actor=org.admin, webhook=hook, data={"is_active": True}, version=hook.version
    )
    assert (hook.consecutive_failures, hook.disabled_at) == (0, None)


def test_redelivery_sends_the_same_event_again(
    org: Organisation, receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    subscribe(org, url, received, names=["customer.created"])
    created(org, django_capture_on_commit_callbacks)
    first = WebhookDelivery.objects.get()
    client = api_client(org.admin)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/api/v1/webhook-deliveries/{first.pk}/redeliver")
    assert answer.status_code == 201, answer.content
    assert answer.json()["redelivery_of_id"] == first.pk
    assert len(received.deliveries) == 2
    assert received.deliveries[0]["json"]["id"] == received.deliveries[1]["json"]["id"]
    assert received.deliveries[1]["verified"] is True
    again = WebhookDelivery.objects.get(pk=answer.json()["id"])
    assert again.status == WebhookDeliveryStatus.DELIVERED
    log = client.get(f"/api/v1/webhooks/{first.subscription_id}/deliveries").json()
    assert [item["id"] for item in log["items"]] == [again.pk, first.pk]


def test_deal_won_lead_and_follow_up_events(
    org: Organisation, receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    received, url = receiver
    names = ["opportunity.won", "opportunity.stage_changed", "followup.recorded"]
    subscribe(org, url, received, names=names)
    deal = make_opportunity(org.rep)
    with django_capture_on_commit_callbacks(execute=True):
        win(deal, org.rep)
    assert "opportunity.won" in received.events
    won = [
        item["json"] for item in received.deliveries if item["json"]["event"] == "opportunity.won"
    ]
    assert won[0]["data"]["status"] == "won"
    with django_capture_on_commit_callbacks(execute=True):
        followups.followup_create(
            actor=org.rep, customer=deal.customer, data={"method": "phone", "content": "电话回访"}
        )
    assert received.events[-1] == "followup.recorded"
    assert received.deliveries[-1]["json"]["data"]["content"] == "电话回访"
    assert all(item["verified"] for item in received.deliveries)


def test_a_url_that_is_not_http_or_points_inside_is_refused(org: Organisation) -> None:
    data = {"name": "x", "events": ["customer.created"], "run_as": org.admin.pk}
    for url in ("ftp://erp.example.cn/hook", "javascript:alert(1)", "", "http://127.0.0.1:8000/"):
        with pytest.raises(InvalidInput) as refused:
            webhooks.webhook_create(actor=org.admin, data={**data, "url": url})
        assert "url" in refused.value.errors
    for url in ("http://10.0.0.5/hook", "http://169.254.169.254/", "http://[::1]/"):
        answer = api_client(org.admin).post(
            "/api/v1/webhooks", {**data, "url": url}, content_type="application/json"
        )
        assert answer.status_code == 422
        assert "url" in answer.json()["errors"]
    assert not WebhookSubscription.objects.exists()
    config.put(webhooks.ALLOW_INTERNAL.key, True)
    hook = webhooks.webhook_create(actor=org.admin, data={**data, "url": "http://127.0.0.1/"})
    assert hook.pk


def test_bad_input_names_the_field(org: Organisation, internal: None) -> None:
    client = api_client(org.admin)
    base = {"name": "ERP", "url": "http://127.0.0.1/", "events": ["customer.created"]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**base, "run_as": org.admin.pk, "events": ["customer.deleted"]}, "events"),
        ({**base, "run_as": org.admin.pk, "events": []}, "events"),
        ({**base, "run_as": 999999}, "run_as"),
        ({**base, "run_as": org.admin.pk, "name": " "}, "name"),
        ({**base, "run_as": org.admin.pk, "secret": "short"}, "secret"),
    ]
    for body, field in cases:
        answer = client.post("/api/v1/webhooks", body, content_type="application/json")
        assert answer.status_code == 422, (body, answer.content)
        assert field in answer.json()["errors"], (body, answer.json())
    assert not WebhookSubscription.objects.exists()


def test_the_api_manages_subscriptions(org: Organisation, internal: None) -> None:
    client = api_client(org.admin)
    body = {
        "name": "ERP",
        "url": "http://127.0.0.1:9/hook",
        "events": ["lead.converted", "customer.created"],
        "run_as": org.east_manager.pk,
    }
    answer = client.post("/api/v1/webhooks", body, content_type="application/json")
    assert answer.status_code == 201, answer.content
    made = answer.json()
    assert len(made["secret"]) >= 32
    assert made["events"] == ["customer.created", "lead.converted"]  # catalogue order
    assert "secret" not in client.get(f"/api/v1/webhooks/{made['id']}").json()
    listed = client.get("/api/v1/webhooks").json()
    assert listed["count"] == 1
    assert listed["items"][0]["name"] == "ERP"
    stale = client.patch(
        f"/api/v1/webhooks/{made['id']}",
        {"version": made["version"] + 5, "name": "改"},
        content_type="application/json",
    )
    assert stale.status_code == 409
    patched = client.patch(
        f"/api/v1/webhooks/{made['id']}",
        {"version": made["version"], "is_active": False},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["is_active"] is False
    names = [item["name"] for item in client.get("/api/v1/webhooks/events").json()]
    assert names == list(events.NAMES)
    assert client.delete(f"/api/v1/webhooks/{made['id']}").status_code == 204
    assert not WebhookSubscription.objects.exists()
    assert api_client(org.rep).get("/api/v1/webhooks").status_code == 403


def test_fanout_reads_a_fixed_number_of_queries(
    org: Organisation, internal: None, django_assert_max_num_queries: Any
) -> None:
    hook = webhooks.webhook_create(
        actor=org.admin,
        data={
            "name": "ERP",
            "url": "http://127.0.0.1:9/",
            "events": ["customer.created"],
            "run_as": org.admin.pk,
        },
    )
    made = [make_customer(org.rep) for _ in range(30)]
    batch = [events.Event(name="customer.created", instance_id=c.pk) for c in made]
    with django_assert_max_num_queries(8):
        ids = webhooks.fanout(batch)
    assert len(ids) == 30
    assert WebhookDelivery.objects.filter(subscription=hook).count() == 30
