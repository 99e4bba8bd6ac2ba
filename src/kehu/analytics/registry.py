"""The reports Kehu offers: each report module registers a ``ReportSpec`` at import.

``load_reports`` imports the modules listed in ``REPORT_MODULES`` (from ``AppConfig.ready``);
the API, the pages and the exports find a report by its key here and never import a report
module themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.utils.functional import Promise

from kehu.analytics.reporting import ReportBuilder
from kehu.core.errors import NotFound

# One module per area of reports (kehu/analytics/reports/<name>.py).
REPORT_MODULES: tuple[str, ...] = (
    "targets",
    "activity",
    "hotspots",
    "scores",
    "pipeline",
    "collections",
)

ALL_ROLES = frozenset({"admin", "manager", "sales", "service", "marketing"})


@dataclass(frozen=True)
class ReportSpec:
    key: str  # the URL name: /api/v1/reports/{key}, /analytics/reports/{key}/
    title: str | Promise
    description: str | Promise
    build: ReportBuilder
    roles: frozenset[str] = ALL_ROLES  # who may open it (superusers always)
    order: int = 100  # place on the reports index
    template: str = ""  # a page of its own instead of analytics/report.html


_reports: dict[str, ReportSpec] = {}


def register(spec: ReportSpec) -> ReportSpec:
    _reports[spec.key] = spec
    return spec


def load_reports() -> None:
    for name in REPORT_MODULES:
        import_module(f"kehu.analytics.reports.{name}")


def _allowed(spec: ReportSpec, user: Any) -> bool:
    return bool(user.is_superuser or getattr(user, "role", "") in spec.roles)


def reports_for(user: Any) -> list[ReportSpec]:
    """The reports ``user`` may open, in index order."""
    return sorted(
        (spec for spec in _reports.values() if _allowed(spec, user)),
        key=lambda spec: (spec.order, spec.key),
    )


def report_spec(user: Any, key: str) -> ReportSpec:
    """The report ``key``; 404 when there is none or the user's role may not open it."""
    spec = _reports.get(key)
    if spec is None or not _allowed(spec, user):
        raise NotFound("report")
    return spec
