"""Webhook deliveries in batches over kept connections, against a real local HTTP/1.1
receiver that keeps connections open: every event arrives signed, the batch costs a fixed
number of queries, a failure in a batch is retried on its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import transaction

from kehu.core import config, events, outbound
from kehu.core.testing.factories import Organisation
from kehu.customers.tests.factories import make_customer
from kehu.integrations.models import WebhookDelivery, WebhookDeliveryStatus
from kehu.integrations.services import webhooks
from kehu.integrations.tests.receiver import verify

pytestmark = pytest.mark.django_db


class KeepAlive:
    """Answers 200 (or the next of ``answers``) over HTTP/1.1 and notes each request's client
    port: requests over a kept connection share one."""

    def __init__(self) -> None:
        self.secret = ""
        self.ports: list[int] = []
        self.verified: list[bool] = []
        self.answers: list[int] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.ports.append(self.client_address[1])
                    outer.verified.append(verify(outer.secret, self.headers, body))
                    status = outer.answers.pop(0) if outer.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kehu"


@pytest.fixture
def keepalive() -> Iterator[KeepAlive]:
    config.put(webhooks.ALLOW_INTERNAL.key, True)
    receiver = KeepAlive()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        outbound.close_clients()
        receiver.server.shutdown()
        receiver.server.server_close()


def test_a_transactions_events_go_out_in_batches_over_kept_connections(
    org: Organisation,
    keepalive: KeepAlive,
    django_capture_on_commit_callbacks: Any,
    django_assert_max_num_queries: Any,
) -> None:
    hook = webhooks.webhook_create(
        actor=org.admin,
        data={
            "name": "ERP",
            "url": keepalive.url,
            "events": ["customer.updated"],
            "run_as": org.admin.pk,
        },
    )
    keepalive.secret = hook.secret
    customer = make_customer(org.rep)
    count = webhooks.BATCH * 2 + 5
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.emit_many("customer.updated", [customer.pk] * count, actor=org.rep)
    assert len(keepalive.ports) == count
    assert all(keepalive.verified)
    assert len(set(keepalive.ports)) <= 3  # the batches share the pool's connection
    delivered = WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.DELIVERED)
    assert delivered.count() == count
    assert set(delivered.values_list("attempts", "response_code")) == {(1, 200)}

    # a batch reads its deliveries once and writes their log rows once
    keepalive.answers = [500]
    ids = list(
        WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                subscription=hook,
                event_id=f"e{n}",
                event="customer.updated",
                instance_id=1,
                body="{}",
            )
            for n in range(webhooks.BATCH)
        )
    )
    with django_assert_max_num_queries(12):  # + the failure's count and the settings read
        waits = webhooks.deliver_batch([row.pk for row in ids])
    assert waits == {ids[0].pk: 30.0}  # the failed one alone waits for its retry
    first = WebhookDelivery.objects.get(pk=ids[0].pk)
    assert (first.status, first.response_code, first.attempts) == ("retrying", 500, 1)
    assert first.next_attempt_at is not None
    rest = WebhookDelivery.objects.filter(pk__in=[row.pk for row in ids[1:]])
    assert set(rest.values_list("status", flat=True)) == {"delivered"}
    hook.refresh_from_db()
    assert hook.consecutive_failures == 0  # later successes reset the count
    assert webhooks.delivery_attempt(delivery_id=ids[0].pk) is None
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("delivered", 2)


def test_a_webhook_switched_off_mid_batch_cancels_the_rest(
    org: Organisation, keepalive: KeepAlive
) -> None:
    config.put(webhooks.DISABLE_AFTER.key, 2)
    hook = webhooks.webhook_create(
        actor=org.admin,
        data={
            "name": "ERP",
            "url": keepalive.url,
            "events": ["customer.updated"],
            "run_as": org.admin.pk,
        },
    )
    keepalive.secret = hook.secret
    keepalive.answers = [500, 500, 500]
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            subscription=hook, event_id=f"e{n}", event="customer.updated", instance_id=1, body="{}"
        )
        for n in range(5)
    )
    waits = webhooks.deliver_batch([row.pk for row in rows])
    assert list(waits) == [rows[0].pk]
    statuses = list(
        WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows])
        .order_by("pk")
        .values_list("status", flat=True)
    )
    assert statuses == ["retrying", "failed", "cancelled", "cancelled", "cancelled"]
    assert len(keepalive.ports) == 2
    hook.refresh_from_db()
    assert not hook.is_active
