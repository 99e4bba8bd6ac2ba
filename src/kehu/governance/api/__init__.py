"""The governance app's API: one router per area, mounted under /api/v1 by ``kehu.api``."""

from __future__ import annotations

from ninja import Router

from kehu.governance.api import audit, backups, requests, retention

router = Router()
router.add_router("/", audit.router)  # /audit
router.add_router("/", retention.router)  # /retention-policies, /legal-holds, /destructions
router.add_router("/", requests.router)  # /personal-data-requests
router.add_router("/", backups.router)  # /backups
