"""The analytics API: reports under /reports, each area's router beside it."""

from ninja import Router

from kehu.analytics.api import reports, review, scores, targets

router = Router()
router.add_router("/reports", reports.router)
router.add_router("/reviews", review.router)
router.add_router("/scores", scores.router)
router.add_router("/", targets.router)  # /targets
