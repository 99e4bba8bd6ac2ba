"""The contracts app's API: one router per area, mounted under /api/v1 by ``kehu.api``."""

from __future__ import annotations

from ninja import Router

from kehu.contracts.api import contracts, payments

router = Router()
router.add_router("/", contracts.router)
router.add_router("/", payments.router)
