"""Links other apps add to the lead page's title bar (a personal-data request of the lead…).

``register(links)`` from ``AppConfig.ready()``: ``links(lead, user)`` returns the
``PageLink``s this user gets for this lead, without queries (it decides from the user and the
lead alone), or an empty list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class PageLink:
    label: str | Promise
    url: str
    icon: str = "link-45deg"


_providers: dict[str, Callable[[Any, Any], list[PageLink]]] = {}


def register(key: str, links: Callable[[Any, Any], list[PageLink]]) -> None:
    _providers[key] = links


def links_for(lead: Any, user: Any) -> list[PageLink]:
    return [link for provider in _providers.values() for link in provider(lead, user)]
