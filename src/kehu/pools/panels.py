"""The dashboard panel: customers about to return to a pool."""

from __future__ import annotations

from django.http import HttpRequest

from kehu.core.dashboard import Panel
from kehu.pools import selectors


def pools_panel(request: HttpRequest) -> Panel | None:
    user = request.user
    if not user.is_authenticated or getattr(user, "role", "") not in ("sales", "manager"):
        return None
    return Panel(
        template="pools/panel.html",
        context={"warnings": selectors.my_warnings(user=user)},
        order=40,
    )
