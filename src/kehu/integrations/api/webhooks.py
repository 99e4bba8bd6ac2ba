"""API of the integrations app: webhooks."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["integrations"])
