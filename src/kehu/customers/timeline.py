"""The customer timeline: other apps (follow-ups, opportunities, tickets…) plug entries in.

``register(fn)`` adds a provider ``fn(customer, user) -> Iterable[TimelineItem]``; the detail
page's timeline tab (loaded when first shown, ``customers:tab``) merges every provider's items
newest first. Providers must respect the user's scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TIMELINE_LIMIT = 100


@dataclass(frozen=True)
class TimelineItem:
    when: datetime
    title: str
    body: str = ""
    icon: str = "dot"
    url: str = ""
    kind: str = ""


TimelineProvider = Callable[[Any, Any], Iterable[TimelineItem]]
_providers: list[TimelineProvider] = []


def register(fn: TimelineProvider) -> TimelineProvider:
    if fn not in _providers:
        _providers.append(fn)
    return fn


def unregister(fn: TimelineProvider) -> None:
    if fn in _providers:
        _providers.remove(fn)


def items_for(customer: Any, user: Any, limit: int = TIMELINE_LIMIT) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    for provider in _providers:
        items.extend(provider(customer, user))
    items.sort(key=lambda item: item.when, reverse=True)
    return items[:limit]
