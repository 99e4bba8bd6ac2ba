"""Background jobs of the customers app."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.customers import services

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="30", hour="2"))
def recompute_customer_grades() -> int:
    """Nightly: recompute every customer's grade from the rules (idempotent)."""
    changed = services.customer_recompute_grades()
    logger.info("Customer grades recomputed: %d changed", changed)
    return changed


@db_task()
def refresh_custom_search(kind: str, key: str) -> int:
    """After a custom field's definition changed whether stored search texts hold it: rewrite
    those of the records with a value (``services.custom_search_refresh``)."""
    changed = services.custom_search_refresh(kind=kind, key=key)
    logger.info("Search texts rewritten for %s field %s: %d", kind, key, changed)
    return changed
