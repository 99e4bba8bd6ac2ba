"""Admin-editable business settings (the handbooks' numbers), with defaults in code.

Every default the handbooks give (SLA hours, cadence days, numbering pattern, …) is registered
here; admins override values in the settings page or the admin; reads are cached per process
for a short time so hot paths do not query for them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kehu.core.models import SystemSetting


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its default and what the settings page shows and checks.

    ``group`` is the handbook chapter it belongs to (default: the key's app prefix);
    ``unit`` names what a number counts (hours, days, yuan); ``minimum``/``maximum`` bound a
    number (or a list's numbers); ``choices`` limit a value to a fixed set; ``help`` explains it.
    """

    key: str
    default: Any
    label: str | Promise
    group: str = ""
    unit: str | Promise = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    help: str | Promise = ""


DEFAULTS: dict[str, SettingSpec] = {}
CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, Any]] = {}


def define(
    key: str,
    default: Any,
    label: str | Promise,
    *,
    group: str = "",
    unit: str | Promise = "",
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[Any, ...] = (),
    help: str | Promise = "",
) -> SettingSpec:
    spec = SettingSpec(
        key,
        default,
        label,
        group=group or key.split(".", 1)[0],
        unit=unit,
        minimum=minimum,
        maximum=maximum,
        choices=choices,
        help=help,
    )
    DEFAULTS[key] = spec
    return spec


def get(key: str) -> Any:
    spec = DEFAULTS[key]
    cached = _cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]

    row = SystemSetting.objects.filter(key=key).values_list("value", flat=True).first()
    value = spec.default if row is None else row
    _cache[key] = (now, value)
    return value


def put(key: str, value: Any) -> None:
    if key not in DEFAULTS:
        raise KeyError(key)
    SystemSetting.objects.update_or_create(key=key, defaults={"value": value})
    _cache.pop(key, None)


def clear_cache() -> None:
    _cache.clear()


CUSTOMER_NUMBER_PATTERN = define(
    "customers.number_pattern",
    "{industry}-{region}-{seq:03}",
    _("Customer number pattern ({industry}, {region}, {kind}, {year}, {seq:03})"),
)
STALE_CONTACT_DAYS = define(
    "customers.stale_contact_days", 30, _("Days after which contact information is stale")
)
VERIFY_WITHIN_HOURS = define(
    "customers.verify_within_hours", 24, _("Hours after first contact to verify a customer")
)
