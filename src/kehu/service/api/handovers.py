"""The handovers endpoints of /api/v1 (filled by the handovers work)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["service"])
