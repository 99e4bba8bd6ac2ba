"""/api/v1/pools, /api/v1/duplicate-check and /api/v1/offboarding."""

from ninja import Router

router = Router(tags=["pools"])
