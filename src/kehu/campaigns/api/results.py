"""API of the campaigns app: results."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["campaigns"])
