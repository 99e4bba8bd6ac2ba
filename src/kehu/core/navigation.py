"""The main menu. Each planned module has an entry; an entry appears once its app serves the URL.

Apps are added to INSTALLED_APPS as they are built, so the menu never links to a page that
does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class MenuItem:
    label: str | Promise
    url_name: str
    icon: str
    roles: frozenset[str] | None = None  # None: every role


MENU: tuple[MenuItem, ...] = (
    MenuItem(_("Dashboard"), "core:dashboard", "speedometer2"),
    MenuItem(_("Customers"), "customers:list", "building"),
    MenuItem(pgettext_lazy("menu", "Contacts"), "customers:contact_list", "person-lines-fill"),
    MenuItem(_("Customer pools"), "pools:list", "inboxes"),
    MenuItem(_("Duplicate check"), "pools:duplicate_check", "search"),
    MenuItem(_("Leads"), "leads:list", "funnel"),
    MenuItem(_("Follow-ups"), "followups:my_day", "calendar-check"),
    MenuItem(
        _("E-mail templates"),
        "followups:email_templates",
        "envelope-paper",
        frozenset({"admin", "manager"}),
    ),
    MenuItem(
        _("Cadence and care"),
        "followups:cadence_plans",
        "arrow-repeat",
        frozenset({"admin", "manager"}),  # who sets cadence plans and care dates
    ),
    MenuItem(_("Pipeline"), "opportunities:board", "kanban"),
    MenuItem(
        _("Contracts"),
        "contracts:list",
        "file-earmark-text",
        frozenset({"admin", "manager", "sales"}),
    ),
    MenuItem(
        _("Service"),
        "service:tickets",
        "headset",
        frozenset({"admin", "manager", "service", "sales"}),  # who sees tickets (not marketing)
    ),
    MenuItem(
        _("Handovers"),
        "service:handovers",
        "clipboard-check",
        frozenset({"admin", "manager", "sales", "service"}),
    ),
    MenuItem(
        _("Service analysis"),
        "service:reports",
        "graph-up",
        frozenset({"admin", "manager", "service"}),
    ),
    MenuItem(
        _("Campaigns"),
        "campaigns:list",
        "megaphone",
        frozenset({"admin", "manager", "marketing"}),  # reps see touches on their customers
    ),
    MenuItem(
        _("Segments"), "campaigns:segments", "people", frozenset({"admin", "manager", "marketing"})
    ),
    MenuItem(
        _("Message templates"),
        "campaigns:templates",
        "chat-square-text",
        frozenset({"admin", "manager", "marketing"}),
    ),
    MenuItem(_("Reports"), "analytics:reports", "bar-chart"),
    MenuItem(_("Import / export"), "transfer:home", "arrow-left-right"),
    MenuItem(_("Offboarding"), "pools:offboarding", "person-x", frozenset({"admin"})),
    MenuItem(_("Inbound mailboxes"), "service:mailboxes", "envelope", frozenset({"admin"})),
    MenuItem(_("Webhooks"), "integrations:webhooks", "broadcast", frozenset({"admin"})),
    MenuItem(_("Custom fields"), "integrations:custom_fields", "ui-checks", frozenset({"admin"})),
    MenuItem(
        _("Personal-data requests"), "governance:requests", "person-lock", frozenset({"admin"})
    ),
    MenuItem(_("Audit trail"), "governance:audit", "journal-check", frozenset({"admin"})),
    MenuItem(_("Backups"), "governance:backups", "archive", frozenset({"admin"})),
    MenuItem(_("Data retention"), "governance:retention", "hourglass-split", frozenset({"admin"})),
    MenuItem(_("Settings"), "accounts:settings", "gear", frozenset({"admin"})),
    MenuItem(_("System settings"), "settings:index", "sliders", frozenset({"admin"})),
)


def menu_for(
    role: str, is_superuser: bool, namespace: str = "", path: str = ""
) -> list[dict[str, object]]:
    """The menu entries ``role`` sees; the entry of the page at ``path`` is active.

    Several entries can share a URL namespace (campaigns, segments and templates under
    ``campaigns:``; the service pages): only one of them is active, the one whose URL is the
    longest prefix of ``path`` (the first of the namespace when none is).
    """
    entries: list[dict[str, object]] = []
    here: list[dict[str, object]] = []  # the entries of ``namespace``, in menu order
    for item in MENU:
        if item.roles is not None and role not in item.roles and not is_superuser:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        entry: dict[str, object] = {
            "label": item.label,
            "url": url,
            "icon": item.icon,
            "active": False,
        }
        entries.append(entry)
        if namespace and item.url_name.split(":")[0] == namespace:
            here.append(entry)
    prefixes = [entry for entry in here if path.startswith(str(entry["url"]))]
    chosen = max(prefixes, key=lambda entry: len(str(entry["url"])), default=None)
    if chosen is None and here:
        chosen = here[0]
    if chosen is not None:
        chosen["active"] = True
    return entries
