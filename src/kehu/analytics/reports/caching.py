"""A report answered from the cache for a few minutes, per viewer, language and filters: for
the reports whose work grows with the rows (demand hotspots' jieba, data quality's reads of
the period's customers) and whose figures need not be to the minute."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.core.cache import cache
from django.utils.translation import get_language

from kehu.analytics.reporting import Report, ReportFilters


def cached_report(
    key: str, seconds: int, user: Any, filters: ReportFilters, build: Callable[[], Report]
) -> Report:
    params = "&".join(f"{name}={value}" for name, value in sorted(filters.as_params().items()))
    cache_key = f"analytics:{key}:{user.pk}:{get_language()}:{params}"
    found = cache.get(cache_key)
    if found is not None:
        return cast(Report, found)
    report = build()
    cache.set(cache_key, report, seconds)
    return report
