"""The integrations app's API: one router per area, mounted under /api/v1 by ``kehu.api``."""

from __future__ import annotations

from ninja import Router

from kehu.integrations.api import custom_fields, external, webhooks

router = Router()
router.add_router("/", webhooks.router)  # /webhooks, /webhook-deliveries
router.add_router("/", external.router)  # /customers/by-external, /contacts/…, /opportunities/…
router.add_router("/", custom_fields.router)  # /custom-fields
