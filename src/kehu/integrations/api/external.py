"""API of the integrations app: external."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["integrations"])
