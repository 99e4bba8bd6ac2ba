"""Sections other apps add to the customer page (e.g. the service app's open tickets).

``register(fn)`` adds a provider ``fn(customer, user) -> Section | None``; the detail page
renders each section's template with its context in the profile tab, by ``order``.
Providers must respect the user's scope and keep to a query or two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


SectionProvider = Callable[[Any, Any], Section | None]
_providers: list[SectionProvider] = []


def register(fn: SectionProvider) -> SectionProvider:
    if fn not in _providers:
        _providers.append(fn)
    return fn


def unregister(fn: SectionProvider) -> None:
    if fn in _providers:
        _providers.remove(fn)


def sections_for(customer: Any, user: Any) -> list[Section]:
    found = [section for fn in _providers if (section := fn(customer, user)) is not None]
    return sorted(found, key=lambda section: section.order)
