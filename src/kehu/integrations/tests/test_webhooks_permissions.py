"""Who may reach each webhooks URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

Webhooks are the administrators' alone: every other role answers 403, whatever it sees of the
records the payloads describe. Subscriptions belong to no team, so no case is out of scope.
"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core import config
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.integrations.models import WebhookDelivery, WebhookSubscription
from kehu.integrations.services import webhooks

ADMIN_ONLY: Roles = {
    "may": ("admin",),
    "may_not": ("rep", "east_manager", "marketing", "service"),
    "out_of_scope": (),
}


def webhook(org: Organisation) -> dict[str, Any]:
    config.put(webhooks.ALLOW_INTERNAL.key, True)
    made = webhooks.webhook_create(
        actor=org.admin,
        data={
            "name": "ERP",
            "url": "http://127.0.0.1:9/hook",
            "events": ["customer.created"],
            "run_as": org.admin.pk,
        },
    )
    return {"webhook_id": made.pk, "_webhook": made}


def delivery(org: Organisation) -> dict[str, Any]:
    made: WebhookSubscription = webhook(org)["_webhook"]
    logged = WebhookDelivery.objects.create(
        subscription=made,
        event_id="4f7d3c1e-0000-4000-8000-000000000001",
        event="customer.created",
        instance_id=1,
        body='{"id":"4f7d3c1e-0000-4000-8000-000000000001","event":"customer.created"}',
        status="failed",
    )
    return {"delivery_id": logged.pk, "_webhook": made}


def versioned(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_webhook"].version, "name": "ERP 2"}


def settings_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": "save",
        "version": made["_webhook"].version,
        "name": "ERP 2",
        "url": "http://127.0.0.1:9/hook",
        "events": ["customer.created", "lead.captured"],
        "run_as": org.admin.pk,
        "is_active": "on",
    }


TABLE = [
    # --- API ---
    Endpoint("GET /webhooks/{webhook_id}", webhook, **ADMIN_ONLY),
    Endpoint("PATCH /webhooks/{webhook_id}", webhook, body=versioned, **ADMIN_ONLY),
    Endpoint("DELETE /webhooks/{webhook_id}", webhook, **ADMIN_ONLY),
    Endpoint("GET /webhooks/{webhook_id}/deliveries", webhook, **ADMIN_ONLY),
    Endpoint("GET /webhook-deliveries/{delivery_id}", delivery, **ADMIN_ONLY),
    Endpoint(
        "POST /webhook-deliveries/{delivery_id}/redeliver",
        delivery,
        body={},
        status=201,
        **ADMIN_ONLY,
    ),
    # --- UI ---
    Endpoint("GET integrations:webhook", webhook, **ADMIN_ONLY),
    Endpoint("POST integrations:webhook", webhook, body=settings_form, **ADMIN_ONLY),
    Endpoint("GET integrations:webhook_delivery", delivery, **ADMIN_ONLY),
    Endpoint("POST integrations:webhook_redeliver", delivery, body={}, **ADMIN_ONLY),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
