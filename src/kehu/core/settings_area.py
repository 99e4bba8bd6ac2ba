"""The settings area (后台配置): reads and writes of the admin settings for the pages and the API.

The values, their checks and their history live in ``kehu.core.config``; this module adds the
role rule (admins only), the reason every change carries, and what the pages show of each
setting (its value written out, its range, its last change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils.translation import gettext as _

from kehu.core import config, settings_pages
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.models import SettingChange

MAX_REASON = 500


@dataclass
class SettingRow:
    """One setting as the area shows it."""

    spec: config.SettingSpec
    value: Any
    is_default: bool
    last_change: SettingChange | None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def display(self) -> str:
        return display_value(self.spec, self.value)

    @property
    def default_display(self) -> str:
        return display_value(self.spec, self.spec.default)

    @property
    def range(self) -> str:
        return range_text(self.spec)


@dataclass
class SettingGroup:
    key: str
    label: str
    rows: list[SettingRow]

    @property
    def links(self) -> list[dict[str, str]]:
        """The pages that edit more of this chapter (those whose app serves them)."""
        # rules kept in tables of their own (SLA policies, the business calendar, cadence
        # plans…), registered by their apps in ``core/settings_pages.py``; the settings area
        # is for administrators, who may open every one of them
        return [
            {"label": str(page.label), "url": page_url}
            for page in settings_pages.PAGES
            if page.chapter == self.key and (page_url := settings_pages.url_of(page))
        ]


def _check_admin(user: Any) -> None:
    if not is_admin(user):
        raise Forbidden(_("Only administrators may see and change the settings."))


def _spec(key: str) -> config.SettingSpec:
    spec = config.DEFAULTS.get(key)
    if spec is None:
        raise NotFound(key)
    return spec


# --- reads ------------------------------------------------------------------------------------


def _last_changes(keys: list[str] | None = None) -> dict[str, SettingChange]:
    latest = SettingChange.objects.values("key").annotate(last=Max("id")).values("last")
    if keys is not None:
        latest = latest.filter(key__in=keys)
    changes = SettingChange.objects.filter(id__in=latest).select_related("changed_by")
    return {change.key: change for change in changes}


def _rows(specs: list[config.SettingSpec]) -> list[SettingRow]:
    changes = _last_changes([spec.key for spec in specs])
    return [
        SettingRow(
            spec=spec,
            value=config.get(spec.key),
            is_default=not config.is_overridden(spec.key),
            last_change=changes.get(spec.key),
        )
        for spec in specs
    ]


def setting_list(*, user: Any, group: str = "") -> list[SettingRow]:
    """Every setting (or one chapter's), in chapter order then as defined."""
    _check_admin(user)
    order = {key: index for index, key in enumerate(config.GROUPS)}
    specs = sorted(
        (spec for spec in config.DEFAULTS.values() if not group or spec.group == group),
        key=lambda spec: (order.get(spec.group, len(order)), spec.group),
    )
    return _rows(specs)


def setting_groups(*, user: Any) -> list[SettingGroup]:
    groups: dict[str, SettingGroup] = {}
    for row in setting_list(user=user):
        group = groups.setdefault(
            row.spec.group, SettingGroup(row.spec.group, row.spec.group_label, [])
        )
        group.rows.append(row)
    return list(groups.values())


def setting_get(*, user: Any, key: str) -> SettingRow:
    _check_admin(user)
    return _rows([_spec(key)])[0]


def setting_history(*, user: Any, key: str = "") -> QuerySet[SettingChange]:
    """The changes, newest first (of one setting when ``key`` is given)."""
    _check_admin(user)
    changes = SettingChange.objects.select_related("changed_by").order_by("-changed_at", "-id")
    if key:
        _spec(key)
        changes = changes.filter(key=key)
    return changes


@dataclass
class ChangeRow:
    change: SettingChange
    label: str
    old: str
    new: str


def change_rows(changes: Any) -> list[ChangeRow]:
    """Changes as the history shows them: the setting's label, the values written out."""
    rows = []
    for change in changes:
        spec = config.DEFAULTS.get(change.key)
        if spec is None:  # a setting an app no longer defines
            rows.append(ChangeRow(change, change.key, str(change.old_value), str(change.new_value)))
            continue
        rows.append(
            ChangeRow(
                change,
                str(spec.label),
                display_value(spec, change.old_value),
                display_value(spec, change.new_value),
            )
        )
    return rows


# --- writes -----------------------------------------------------------------------------------


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(errors={"reason": [_("Say why the setting changes.")]})
    if len(text) > MAX_REASON:
        message = _("Keep the reason under %(count)d characters.") % {"count": MAX_REASON}
        raise InvalidInput(errors={"reason": [message]})
    return text


@transaction.atomic
def setting_update(*, actor: Any, key: str, value: Any, reason: str) -> SettingRow:
    """Change a setting (admins): checked against its spec (422 naming the key), recorded
    with who and why, seen by every process within a minute (at once with Redis)."""
    _check_admin(actor)
    spec = _spec(key)
    why = _reason(reason)
    config.put(spec.key, value, actor=actor, reason=why)
    return setting_get(user=actor, key=key)


@transaction.atomic
def setting_reset(*, actor: Any, key: str, reason: str) -> SettingRow:
    """Back to the default (admins), recorded like a change."""
    _check_admin(actor)
    spec = _spec(key)
    config.reset(spec.key, actor=actor, reason=_reason(reason))
    return setting_get(user=actor, key=key)


# --- how values read --------------------------------------------------------------------------


def _scalar_text(spec: config.SettingSpec, value: Any) -> str:
    labels = dict(spec.choice_pairs)
    if value in labels:
        return labels[value]
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value == "":
        return "—"
    return str(value)


def display_value(spec: config.SettingSpec, value: Any) -> str:
    """A value as one line of text: lists joined, a dict's entries and a row's fields named."""
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return "; ".join(
                ", ".join(f"{name} {item}" for name, item in row.items() if item is not None)
                for row in value
            )
        return ", ".join(_scalar_text(spec, item) for item in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{name}: {_scalar_text(spec, item)}" for name, item in value.items())
    text = _scalar_text(spec, value)
    unit = str(spec.unit)
    if unit and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{text} {unit}"
    return text


def _bound(number: float | None) -> str:
    return "" if number is None else f"{number:,g}" if isinstance(number, float) else f"{number:,}"


def range_text(spec: config.SettingSpec) -> str:
    if spec.choices:
        return " / ".join(label for _value, label in spec.choice_pairs)
    low, high = _bound(spec.minimum), _bound(spec.maximum)
    if low and high:
        return f"{low} – {high}"
    if low:
        return f"≥ {low}"
    if high:
        return f"≤ {high}"
    return ""
