"""The governance API: backups."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["governance"])
