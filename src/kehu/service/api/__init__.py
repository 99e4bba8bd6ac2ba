"""The service app's API: one router per area, mounted under /api/v1 by ``kehu.api``.

/handovers, /tickets, /ticket-forms, /mailboxes, /sla-policies, /business-calendar,
/surveys and /reports/service/... .
"""

from __future__ import annotations

from ninja import Router

from kehu.service.api import handovers, mail, reports, sla, surveys, tickets

router = Router()
router.add_router("/", handovers.router)
router.add_router("/", tickets.router)
router.add_router("/", sla.router)
router.add_router("/", mail.router)
router.add_router("/", surveys.router)
router.add_router("/reports/service", reports.router)
