"""The sla endpoints of /api/v1 (filled by the sla work)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["service"])
