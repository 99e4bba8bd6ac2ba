"""API of the campaigns app: segments."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["campaigns"])
