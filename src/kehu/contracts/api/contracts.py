"""The contracts API (filled by the contracts area)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["contracts"])
