""" "Deal won": apps above opportunities act on a won deal (the service handover) without
opportunities importing them.

Apps register a callback from ``AppConfig.ready()`` with ``on_deal_won``; the stage service
calls each inside the transaction that wins the deal, so what they write commits or rolls back
with the win.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kehu.accounts.models import User
    from kehu.opportunities.models import Opportunity

DealWon = Callable[["Opportunity", "User"], None]

_callbacks: list[DealWon] = []


def on_deal_won(callback: DealWon) -> None:
    """Call ``callback(opportunity, actor)`` whenever a deal enters a won stage."""
    if callback not in _callbacks:
        _callbacks.append(callback)


def deal_won(opportunity: Opportunity, actor: User) -> None:
    for callback in list(_callbacks):
        callback(opportunity, actor)
