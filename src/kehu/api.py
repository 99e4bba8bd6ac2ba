"""The REST API: one NinjaAPI under /api/v1 that mounts each app's router."""

from __future__ import annotations

from ninja import NinjaAPI

from kehu import __version__
from kehu.accounts.api import router as accounts_router
from kehu.accounts.auth import BearerTokenAuth, SessionAuth
from kehu.analytics.api import router as analytics_router
from kehu.campaigns.api import router as campaigns_router
from kehu.contracts.api import router as contracts_router
from kehu.core.api import (
    ORJSONRenderer,
    install_busy_handler,
    install_error_handlers,
    install_request_checks,
)
from kehu.core.routers import router as history_router
from kehu.core.settings_api import router as settings_router
from kehu.customers.api import contacts_router, customers_router
from kehu.followups.api import router as followups_router
from kehu.followups.plans_api import router as followup_rules_router
from kehu.governance.api import router as governance_router
from kehu.integrations.api import router as integrations_router
from kehu.leads.api import router as leads_router
from kehu.notifications.api import router as notifications_router
from kehu.opportunities.api import router as opportunities_router
from kehu.pools.api import router as pools_router
from kehu.service.api import router as service_router
from kehu.transfer.api import router as transfer_router

api = NinjaAPI(
    title="Kehu CRM API",
    version=__version__,
    description="REST API of Kehu. Authenticate with `Authorization: Bearer <token>`.",
    urls_namespace="api",
    auth=[BearerTokenAuth(), SessionAuth()],
    renderer=ORJSONRenderer(),
)
install_error_handlers(api)
install_request_checks(api)
install_busy_handler(api)

# first: /customers/upsert would otherwise meet /customers/{customer_id} (405 for a POST)
api.add_router("/", integrations_router)  # /webhooks, /…/by-external
api.add_router("/", governance_router)  # /audit, /retention-policies, /backups, …
api.add_router("/users", accounts_router)
api.add_router("/history", history_router)
api.add_router("/settings", settings_router)
api.add_router("/customers", customers_router)
api.add_router("/contacts", contacts_router)
api.add_router("/leads", leads_router)
api.add_router("/", followups_router)  # /followups and /tasks
api.add_router("/", followup_rules_router)  # /cadence-plans and /care-dates
api.add_router("/notifications", notifications_router)
api.add_router("/opportunities", opportunities_router)
api.add_router("/", transfer_router)  # /imports and /exports
api.add_router("/", pools_router)  # /pools, /duplicate-check, /offboarding
api.add_router("/", service_router)  # /handovers, /tickets, /surveys, /reports/service
api.add_router("/", contracts_router)  # /contracts, /payments
api.add_router("/", campaigns_router)  # /segments, /campaigns, /templates, /consents
api.add_router("/", analytics_router)  # /reports (and /targets, /scores)
