"""API of the campaigns app: campaigns."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["campaigns"])
