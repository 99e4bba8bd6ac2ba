"""Cards other apps add to the deal page (the contract and its review, payments…).

``register(DealSection(...))`` from ``AppConfig.ready()``. ``context(opportunity, user)``
returns the card's template context (the template reads it as ``data``), or ``None`` when the
card has nothing for this user or deal; it must respect the user's scope and run a fixed
number of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class DealSection:
    key: str
    title: str | Promise
    template: str
    context: Callable[[Any, Any], dict[str, Any] | None]
    order: int = 100


_sections: dict[str, DealSection] = {}


def register(section: DealSection) -> DealSection:
    _sections[section.key] = section
    return section


def unregister(key: str) -> None:
    _sections.pop(key, None)


def rendered_for(opportunity: Any, user: Any) -> list[tuple[DealSection, dict[str, Any]]]:
    """The sections that have something for ``user`` on this deal, in order, with contexts."""
    found = []
    for section in sorted(_sections.values(), key=lambda section: section.order):
        data = section.context(opportunity, user)
        if data is not None:
            found.append((section, data))
    return found
