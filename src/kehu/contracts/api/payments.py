"""The payments API (filled by the payments area)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["payments"])
