"""The tickets endpoints of /api/v1 (filled by the tickets work)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["service"])
