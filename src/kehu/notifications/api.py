"""/api/v1 routes of the notifications app."""

from ninja import Router

router = Router(tags=["notifications"])
