"""Every write of the pools app: claim, assign, release, recycle, pool settings, offboarding.

Public functions (keyword-only, explicit acting user):
``pool_create``, ``pool_update``, ``pool_claim``, ``pool_assign``, ``pool_release``,
``pool_put``, ``pool_recycle_run``, ``offboarding_plan``, ``offboarding_apply``,
``contact_reveal``. Each concern lives in its own module; this package re-exports the names
other code imports.
"""

from kehu.pools.services.claims import (
    LimitReached,
    Usage,
    cooling_until,
    day_start,
    pool_assign,
    pool_claim,
    pool_put,
    pool_release,
    usage_for,
    usages_for,
)
from kehu.pools.services.offboarding import (
    HANDOVER_REASON,
    HandoverPlan,
    TransferKind,
    offboarding_apply,
    offboarding_plan,
    transfer_kinds,
)
from kehu.pools.services.pools import (
    POOL_FIELDS,
    home_pools,
    is_member,
    member_pool_or_404,
    pool_create,
    pool_update,
)
from kehu.pools.services.recycling import (
    RecycleDue,
    RecycleResult,
    owner_since,
    pool_recycle_run,
    recycle_due,
)
from kehu.pools.services.reveal import Revealed, contact_reveal

__all__ = [
    "HANDOVER_REASON",
    "POOL_FIELDS",
    "HandoverPlan",
    "LimitReached",
    "RecycleDue",
    "RecycleResult",
    "Revealed",
    "TransferKind",
    "Usage",
    "contact_reveal",
    "cooling_until",
    "day_start",
    "home_pools",
    "is_member",
    "member_pool_or_404",
    "offboarding_apply",
    "offboarding_plan",
    "owner_since",
    "pool_assign",
    "pool_claim",
    "pool_create",
    "pool_put",
    "pool_recycle_run",
    "pool_release",
    "pool_update",
    "recycle_due",
    "transfer_kinds",
    "usage_for",
    "usages_for",
]
