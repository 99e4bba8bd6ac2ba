"""API of the campaigns app: outreach."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["campaigns"])
