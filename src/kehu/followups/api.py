"""/api/v1 routes of the followups app."""

from ninja import Router

router = Router(tags=["followups"])
