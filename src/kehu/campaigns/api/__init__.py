"""The campaigns app's API: one router per area, mounted under /api/v1 by ``kehu.api``."""

from __future__ import annotations

from ninja import Router

from kehu.campaigns.api import campaigns, consent, outreach, results, segments

router = Router()
router.add_router("/", segments.router)  # /segments
# /campaigns/compare before /campaigns/{campaign_id}: the first route that matches answers
router.add_router("/", results.router)  # /campaigns/{id}/results, /campaigns/compare
router.add_router("/", campaigns.router)  # /campaigns, members, costs, goals, forms
router.add_router("/", outreach.router)  # /templates, /campaigns/{id}/sends
router.add_router("/", consent.router)  # /consents, /consents/import
