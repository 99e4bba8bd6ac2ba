"""Dashboard panels of the targets: this quarter's progress.

- a rep's panel: their own targets and their department's;
- a manager's (and an administrator's): the department's targets and each rep's.

Each row carries ``data-target="<id>"`` and its attainment in ``data-attainment``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.analytics.reporting import quarter_of
from kehu.analytics.selectors.targets import target_progress
from kehu.core.access import is_admin
from kehu.core.dashboard import Panel

PANEL_ROWS = 12  # the dashboard shows the first ones; the targets page shows all


def _rows(user: Any) -> list[dict[str, Any]]:
    start, end = quarter_of(timezone.localdate())
    rows = target_progress(user=user, start=start, end=end, cached=True)[:PANEL_ROWS]
    for row in rows:
        row["bar"] = min(row["attainment_pct"] or 0, 100)
    return rows


def rep_panel(request: HttpRequest) -> Panel | None:
    user: Any = request.user
    if not user.is_authenticated or getattr(user, "role", "") != "sales":
        return None
    context = {
        "rows": _rows(user),
        "title": _("My targets this quarter"),
        "panel_id": "targets-rep-panel",
    }
    return Panel(template="analytics/targets/_panel.html", context=context, order=12)


def manager_panel(request: HttpRequest) -> Panel | None:
    user: Any = request.user
    if not user.is_authenticated:
        return None
    if getattr(user, "role", "") != "manager" and not is_admin(user):
        return None
    context = {
        "rows": _rows(user),
        "title": _("Team targets this quarter"),
        "panel_id": "targets-manager-panel",
    }
    return Panel(template="analytics/targets/_panel.html", context=context, order=12)
