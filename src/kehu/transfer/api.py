"""/api/v1/imports and /api/v1/exports."""

from ninja import Router

router = Router(tags=["imports"])
