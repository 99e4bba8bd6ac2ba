"""Pages that edit a chapter's rules beyond its plain settings, linked from the settings area.

Some handbook rules are records, not single values: the business calendar (holidays and 调休,
service), cadence plans and care dates (followups). Their apps register the page here from
``AppConfig.ready()``, under the settings chapter (the ``config.define`` group) it belongs to;
the settings area lists ``pages_for(chapter, user)`` beside that chapter's settings, so core
never imports the apps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise

from kehu.core.access import is_admin


@dataclass(frozen=True)
class SettingsPage:
    chapter: str  # a settings group: "service", "followups", ...
    label: str | Promise
    url_name: str
    help: str | Promise = ""
    roles: frozenset[str] = frozenset({"admin"})  # who may open it (admins always)


PAGES: list[SettingsPage] = []


def register(page: SettingsPage) -> None:
    if page not in PAGES:
        PAGES.append(page)


def url_of(page: SettingsPage) -> str:
    """The page's address; "" when its app serves no such page (not installed)."""
    try:
        return reverse(page.url_name)
    except NoReverseMatch:
        return ""


def pages_for(chapter: str | None, user: Any) -> list[dict[str, Any]]:
    """The pages of ``chapter`` (None: every chapter) that ``user`` may open, with their URL."""
    found = []
    for page in PAGES:
        if chapter is not None and page.chapter != chapter:
            continue
        if not (is_admin(user) or getattr(user, "role", "") in page.roles):
            continue
        url = url_of(page)
        if not url:
            continue
        found.append({"chapter": page.chapter, "label": page.label, "url": url, "help": page.help})
    return found
