"""Sections other apps add to the customer page (open tickets, satisfaction…).

``register(Section(...))`` from ``AppConfig.ready()``. The page shows a placeholder per
section that loads when it comes into view (``customers:tab`` with the section's key), so a
section's queries never weigh on the page itself. ``context(customer, user)`` returns the
section's template context, or ``None`` when it has nothing for this user; it must respect the
user's scope and run a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class Section:
    key: str  # a slug, not one of the page's own tabs
    title: str | Promise
    template: str
    context: Callable[[Any, Any], dict[str, Any] | None]
    shown: Callable[[Any], bool] = lambda user: True  # no query: may this user have any?
    order: int = 100


_sections: dict[str, Section] = {}


def register(section: Section) -> Section:
    _sections[section.key] = section
    return section


def unregister(key: str) -> None:
    _sections.pop(key, None)


def get(key: str) -> Section | None:
    return _sections.get(key)


def shown_to(user: Any) -> list[Section]:
    found = [section for section in _sections.values() if section.shown(user)]
    return sorted(found, key=lambda section: section.order)
