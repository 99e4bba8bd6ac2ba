"""The webhook pages: an admin adds a webhook with the form, sees its delivery log (a fixed
number of queries however long) and sends a delivery again; bad input stays on the form."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core import config
from kehu.core.testing.factories import Organisation
from kehu.integrations.models import WebhookDelivery, WebhookSubscription
from kehu.integrations.services import webhooks

pytestmark = pytest.mark.django_db


def admin_client(org: Organisation) -> Client:
    client = Client()
    client.force_login(org.admin)
    return client


def form(org: Organisation, **fields: Any) -> dict[str, Any]:
    return {
        "name": "金蝶 ERP",
        "url": "http://127.0.0.1:9/kehu",
        "events": ["customer.created", "opportunity.won"],
        "run_as": org.east_manager.pk,
        "is_active": "on",
        **fields,
    }


def test_an_admin_adds_a_webhook_on_the_page(org: Organisation) -> None:
    config.put(webhooks.ALLOW_INTERNAL.key, True)
    client = admin_client(org)
    page = client.get(reverse("integrations:webhooks"))
    assert page.status_code == 200
    assert "opportunity.won" in page.content.decode()
    answer = client.post(reverse("integrations:webhooks"), form(org))
    hook = WebhookSubscription.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("integrations:webhook", args=[hook.pk])
    assert hook.events == ["customer.created", "opportunity.won"]
    assert hook.run_as == org.east_manager
    assert len(hook.secret) >= 32
    detail = client.get(answer["Location"]).content.decode()
    assert hook.secret in detail
    assert "金蝶 ERP" in detail


def test_the_form_refuses_an_internal_url_while_the_setting_is_off(org: Organisation) -> None:
    answer = admin_client(org).post(reverse("integrations:webhooks"), form(org))
    assert answer.status_code == 200
    assert "is-invalid" in answer.content.decode()
    assert not WebhookSubscription.objects.exists()
    answer = admin_client(org).post(
        reverse("integrations:webhooks"), form(org, url="file:///etc/passwd")
    )
    assert answer.status_code == 200
    assert not WebhookSubscription.objects.exists()


def test_the_delivery_log_reads_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    config.put(webhooks.ALLOW_INTERNAL.key, True)
    hook = webhooks.webhook_create(
        actor=org.admin,
        data={
            "name": "ERP",
            "url": "http://127.0.0.1:9/",
            "events": ["customer.created"],
            "run_as": org.admin.pk,
        },
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            subscription=hook,
            event_id=f"00000000-0000-4000-8000-{n:012d}",
            event="customer.created",
            instance_id=n,
            body="{}",
            status="failed" if n % 2 else "delivered",
            response_code=500 if n % 2 else 200,
            error="The receiver answered 500." if n % 2 else "",
        )
        for n in range(120)
    )
    client = admin_client(org)
    url = reverse("integrations:webhook", args=[hook.pk])
    client.get(url)
    with django_assert_max_num_queries(14):
        page = client.get(url)
    assert page.status_code == 200
    assert page.content.decode().count("The receiver answered 500.") == 25  # 50 a page
    failed = client.get(url, {"status": "failed"}).content.decode()
    assert failed.count("The receiver answered 500.") == 50
    assert client.get(url, {"status": "nonsense", "page": "x"}).status_code == 200
    last = WebhookDelivery.objects.order_by("-id").first()
    assert last is not None
    shown = client.get(reverse("integrations:webhook_delivery", args=[last.pk]))
    assert shown.status_code == 200
    assert last.event_id in shown.content.decode()
