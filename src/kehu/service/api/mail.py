"""The mail endpoints of /api/v1 (filled by the mail work)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["service"])
