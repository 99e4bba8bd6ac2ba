"""/api/v1 routes of the opportunities app."""

from ninja import Router

router = Router(tags=["opportunities"])
