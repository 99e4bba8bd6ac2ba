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
    from kehu.opportunities.models import Opportunity, Stage

DealWon = Callable[["Opportunity", "User"], None]
StageEntered = Callable[["Opportunity", "Stage", "User | None"], None]

_callbacks: list[DealWon] = []
_entered: list[StageEntered] = []


def on_deal_won(callback: DealWon) -> None:
    """Call ``callback(opportunity, actor)`` whenever a deal enters a won stage."""
    if callback not in _callbacks:
        _callbacks.append(callback)


def deal_won(opportunity: Opportunity, actor: User) -> None:
    for callback in list(_callbacks):
        callback(opportunity, actor)


def on_stage_entered(callback: StageEntered) -> None:
    """Call ``callback(opportunity, stage, actor)`` whenever a deal enters a stage (created in
    it or moved to it), inside the transaction of the move."""
    if callback not in _entered:
        _entered.append(callback)


def stage_entered(opportunity: Opportunity, stage: Stage, actor: User | None) -> None:
    for callback in list(_entered):
        callback(opportunity, stage, actor)
