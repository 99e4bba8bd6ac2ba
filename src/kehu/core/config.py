"""Admin-editable business settings (the handbooks' numbers), with defaults in code.

Every default the handbooks give (SLA hours, cadence days, numbering pattern, …) is registered
here with ``define`` (its label, chapter, unit, bounds and help); admins override values in the
settings area (``docs/settings.md``) or through ``/api/v1/settings``; every change is checked
against the setting's spec (``validate``) and recorded with who, when and why
(``SettingChange``).

Reads are hot (lists call ``get`` per row), so each process keeps every override in memory:
``get`` is a dictionary lookup. Freshness across processes:

- the overrides are reloaded (one query) at least every ``RELOAD_SECONDS`` (30 s), so every
  process sees a change within a minute whatever the deployment;
- a change also writes a new settings version to the Django cache, which ``get`` compares at
  most every ``VERSION_CHECK_SECONDS`` (1 s). With Redis (``KEHU_REDIS_URL``) that cache is
  shared, so every process sees the change within a second; without Redis the cache is the
  process's own memory and the 30 s reload carries the change.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from kehu.core import audit
from kehu.core.context import current_request_id
from kehu.core.errors import InvalidInput
from kehu.core.models import SettingChange, SystemSetting

logger = logging.getLogger(__name__)

# A check beyond type, shape, bounds and choices: the message of what is wrong, or None.
Check = Callable[[Any], "str | Promise | None"]

# The handbook chapters, in the order the settings area shows them.
GROUPS: dict[str, str | Promise] = {
    "customers": _("Customers (客户信息)"),
    "leads": _("Leads and assignment (线索分配)"),
    "followups": _("Follow-ups and tasks (跟进)"),
    "opportunities": _("Opportunities and pipeline (销售机会)"),
    "pools": _("Customer pools and reveal (公海池)"),
    "service": _("Service and business calendar (售后服务)"),
    "contracts": _("Contracts and payments (合同与回款)"),
    "campaigns": _("Marketing campaigns (市场营销)"),
    "integrations": _("Integrations: webhooks and external ids (系统集成)"),
    "governance": _("Data governance: retention, audit, backups (数据治理)"),
    "security": _("Sign-in security: two-factor and passwords (登录安全)"),
    "analytics": _("Analysis and scores (数据分析)"),
    "notifications": _("Notifications (通知)"),
    "system": _("System (系统)"),
}

# Units shared by the apps' settings (``unit=config.HOURS``).
HOURS = pgettext_lazy("unit", "hours")
MINUTES = pgettext_lazy("unit", "minutes")
SECONDS = pgettext_lazy("unit", "seconds")
DAYS = pgettext_lazy("unit", "days")
WORKING_DAYS = pgettext_lazy("unit", "working days")
MONTHS = pgettext_lazy("unit", "months")
YEARS = pgettext_lazy("unit", "years")
YUAN = pgettext_lazy("unit", "yuan")
MEGABYTES = pgettext_lazy("unit", "MB")
PERCENT = pgettext_lazy("unit", "%")
POINTS = pgettext_lazy("unit", "points")
TIMES = pgettext_lazy("unit", "times")
DEALS = pgettext_lazy("unit", "deals")
CUSTOMERS = pgettext_lazy("unit", "customers")
ORDERS = pgettext_lazy("unit", "orders")
HOUR_OF_DAY = pgettext_lazy("unit", "hour of the day (0-23)")
DAY_OF_MONTH = pgettext_lazy("unit", "day of the month")
TIME_OF_DAY = pgettext_lazy("unit", "time (HH:MM)")

ROLES = ("admin", "manager", "sales", "service", "marketing")


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its default and what the settings page shows and checks.

    ``group`` is the handbook chapter it belongs to (default: the key's app prefix);
    ``unit`` names what a number counts (hours, days, yuan); ``minimum``/``maximum`` bound a
    number (or every number inside a list or dict); ``choices`` limit a value (or each item of
    a list) to a fixed set, each a value or a ``(value, label)`` pair; ``help`` explains it;
    ``check`` is a further rule (``time_of_day``, ``http_url``, …). A list of dicts keeps the
    fields of ``row`` (default: the default's first row); the fields named in ``optional`` may
    be left out.
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
    check: Check | None = field(default=None, compare=False)
    row: dict[str, Any] | None = None
    optional: tuple[str, ...] = ()

    @property
    def row_template(self) -> dict[str, Any] | None:
        """The fields of one row of a list of dicts: ``row``, else the default's first row."""
        if self.row is not None:
            return self.row
        default = self.default
        if isinstance(default, list) and default and isinstance(default[0], dict):
            return default[0]
        return None

    @property
    def group_label(self) -> str:
        return str(GROUPS.get(self.group, self.group))

    @property
    def choice_values(self) -> tuple[Any, ...]:
        return tuple(_choice(item)[0] for item in self.choices)

    @property
    def choice_pairs(self) -> list[tuple[Any, str]]:
        return [(value, str(label)) for value, label in map(_choice, self.choices)]

    @property
    def kind(self) -> str:
        """The editor the value needs: bool, int, float, str, list, dict, rows (a list of
        dicts) or json (anything else)."""
        default = self.default
        if isinstance(default, bool):
            return "bool"
        if isinstance(default, int):
            return "int"
        if isinstance(default, float):
            return "float"
        if isinstance(default, str):
            return "str"
        if isinstance(default, list):
            if self.row_template is not None:
                return "rows"
            if default and isinstance(default[0], list | dict):
                return "json"
            return "list"
        if isinstance(default, dict):
            nested = any(isinstance(item, list | dict) for item in default.values())
            return "json" if nested else "dict"
        return "json"


def _choice(item: Any) -> tuple[Any, Any]:
    if isinstance(item, tuple) and len(item) == 2:
        return item[0], item[1]
    return item, item


DEFAULTS: dict[str, SettingSpec] = {}
MAX_TEXT = 2000  # longest text value
MAX_ITEMS = 200  # most items in a list value
VERSION_KEY = "kehu:settings:version"
VERSION_CHECK_SECONDS = 1.0
RELOAD_SECONDS = 30.0
_clock = time.monotonic  # tests move it


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
    check: Check | None = None,
    row: dict[str, Any] | None = None,
    optional: tuple[str, ...] = (),
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
        check=check,
        row=row,
        optional=optional,
    )
    DEFAULTS[key] = spec
    return spec


# --- reading ----------------------------------------------------------------------------------


@dataclass
class _Overrides:
    values: dict[str, Any] | None = None  # key -> stored value, every override
    version: Any = None
    loaded_at: float = 0.0
    checked_at: float = 0.0


_state = _Overrides()


def _shared_version() -> Any:
    try:
        return cache.get(VERSION_KEY)
    except Exception:  # a cache that is down must not stop every read: the reload still runs
        logger.warning("settings version unreadable from the cache", exc_info=True)
        return None


def _overrides() -> dict[str, Any]:
    state = _state
    now = _clock()
    values = state.values
    if values is not None:
        if now - state.checked_at < VERSION_CHECK_SECONDS:
            return values
        if now - state.loaded_at < RELOAD_SECONDS:
            state.checked_at = now
            if _shared_version() == state.version:
                return values
    version = _shared_version()
    values = dict(SystemSetting.objects.values_list("key", "value"))
    state.values, state.version, state.loaded_at, state.checked_at = values, version, now, now
    return values


def get(key: str) -> Any:
    spec = DEFAULTS[key]
    return _overrides().get(key, spec.default)


def is_overridden(key: str) -> bool:
    return key in _overrides()


def clear_cache() -> None:
    """Forget this process's copy of the overrides (tests; after a change)."""
    _state.values = None
    _state.checked_at = 0.0


def changed() -> None:
    """Settings changed: this process rereads them now, the others at their next check.

    The version is written now and again at commit: a process that reloads between the two
    reads the rows as they were, and the second write makes it read them again.
    """
    clear_cache()
    _publish_version()
    transaction.on_commit(_after_commit)


def _publish_version() -> None:
    try:
        cache.set(VERSION_KEY, uuid4().hex, timeout=None)
    except Exception:
        logger.warning("settings version not written to the cache", exc_info=True)


def _after_commit() -> None:
    clear_cache()
    _publish_version()


def _row_written(**_kwargs: Any) -> None:
    changed()


# Writes past ``put`` (the Django admin, fixtures) reach the other processes too.
post_save.connect(_row_written, sender=SystemSetting, dispatch_uid="core-settings")
post_delete.connect(_row_written, sender=SystemSetting, dispatch_uid="core-settings")


# --- checking ---------------------------------------------------------------------------------


def _number_text(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _within(spec: SettingSpec, number: float) -> str | None:
    if spec.minimum is not None and number < spec.minimum:
        return gettext("Must be at least %(minimum)s.") % {"minimum": _number_text(spec.minimum)}
    if spec.maximum is not None and number > spec.maximum:
        return gettext("Must be at most %(maximum)s.") % {"maximum": _number_text(spec.maximum)}
    return None


def _scalar(spec: SettingSpec, template: Any, value: Any, errors: list[str], where: str) -> Any:
    """``value`` checked against the type of ``template``; problems appended to ``errors``."""

    def fail(message: str) -> None:
        errors.append(f"{where}: {message}" if where else message)

    result = value
    if isinstance(template, bool):
        if not isinstance(value, bool):
            fail(gettext("Enter true or false."))
            return value
    elif isinstance(template, int | float):
        integral = isinstance(template, int)
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(gettext("Enter a whole number.") if integral else gettext("Enter a number."))
            return value
        if isinstance(value, float) and not math.isfinite(value):
            fail(gettext("Enter a number."))
            return value
        if integral:
            if isinstance(value, float) and not value.is_integer():
                fail(gettext("Enter a whole number."))
                return value
            result = int(value)
        else:
            result = float(value)
        problem = _within(spec, result)
        if problem:
            fail(problem)
    elif isinstance(template, str):
        if not isinstance(value, str):
            fail(gettext("Enter text."))
            return value
        result = value.strip()
        if len(result) > MAX_TEXT:
            fail(gettext("Enter at most %(count)d characters.") % {"count": MAX_TEXT})
    if spec.choices and result not in spec.choice_values:
        names = ", ".join(str(label) for _value, label in spec.choice_pairs)
        fail(gettext("Choose one of: %(choices)s.") % {"choices": names})
    return result


def _row(
    spec: SettingSpec, template: dict[str, Any], value: Any, errors: list[str], where: str
) -> Any:
    """A dict with exactly ``template``'s keys, each value of the template value's type."""
    if not isinstance(value, dict):
        message = gettext("Give the fields %(names)s.") % {"names": ", ".join(template)}
        errors.append(f"{where}: {message}" if where else message)
        return value
    optional = spec.optional if template is spec.row_template else ()
    value = {name: item for name, item in value.items() if not (name in optional and item is None)}
    missing = [name for name in template if name not in value and name not in optional]
    unknown = [str(name) for name in value if name not in template]
    prefix = f"{where}: " if where else ""
    if missing:
        errors.append(prefix + gettext("Missing: %(names)s.") % {"names": ", ".join(missing)})
    if unknown:
        errors.append(prefix + gettext("Unknown: %(names)s.") % {"names": ", ".join(unknown)})
    result: dict[str, Any] = {}
    for name, item_template in template.items():
        if name in value:
            inner = f"{where}, {name}" if where else name
            result[name] = _value(spec, item_template, value[name], errors, inner)
    return result


def _value(spec: SettingSpec, template: Any, value: Any, errors: list[str], where: str) -> Any:
    if isinstance(template, list):
        if not isinstance(value, list):
            errors.append(gettext("Enter a list."))
            return value
        if len(value) > MAX_ITEMS:
            errors.append(gettext("Give at most %(count)d items.") % {"count": MAX_ITEMS})
            return value
        if not template:
            return value
        item_template = template[0]
        rows = isinstance(item_template, dict)
        if rows and template is spec.default:
            item_template = spec.row_template
        result = []
        for index, item in enumerate(value, start=1):
            label = (gettext("row %(number)d") if rows else gettext("item %(number)d")) % {
                "number": index
            }
            result.append(_value(spec, item_template, item, errors, label))
        if not isinstance(item_template, list | dict):
            result = list(dict.fromkeys(result))  # each value once, in the order given
        return result
    if isinstance(template, dict):
        return _row(spec, template, value, errors, where)
    if template is None:
        return value
    return _scalar(spec, template, value, errors, where)


def validate(spec: SettingSpec, value: Any) -> Any:
    """``value`` as stored (text stripped, numbers of the default's type), or ``InvalidInput``
    naming the setting's key with every problem: the type taken from the default, numbers
    within the bounds, the choices, a list of dicts with the default's fields and value types,
    then the spec's own ``check``."""
    errors: list[str] = []
    result = _value(spec, spec.default, value, errors, "")
    if not errors and spec.check is not None:
        problem = spec.check(result)
        if problem:
            errors.append(str(problem))
    if errors:
        raise InvalidInput(
            gettext("“%(label)s” is not valid.") % {"label": spec.label},
            errors={spec.key: errors},
        )
    return result


# Checks for ``define(check=...)``.
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def time_of_day(value: Any) -> str | None:
    if not _HHMM.match(str(value)):
        return gettext("Enter a time as HH:MM (00:00 to 23:59).")
    return None


def time_of_day_or_blank(value: Any) -> str | None:
    return time_of_day(value) if value else None


def http_url(value: Any) -> str | None:
    from urllib.parse import urlsplit

    parts = urlsplit(str(value))
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
        return gettext(
            "Enter an address starting with http:// or https://, e.g. https://crm.example.cn."
        )
    return None


def http_url_or_empty(value: Any) -> str | None:
    """An address as ``http_url`` checks it, or nothing (empty: a fallback applies)."""
    return None if not str(value or "").strip() else http_url(value)


def not_empty(value: Any) -> str | None:
    return gettext("Give at least one value.") if not value else None


def number_pattern(*fields: str) -> Check:
    """A ``str.format`` pattern using only ``fields`` (``{seq:03}`` and the like)."""

    def check(value: Any) -> str | None:
        sample: dict[str, Any] = dict.fromkeys(fields, "X")
        sample.update(seq=1, year=2026)
        try:
            text = str(value).format(**sample)
        except (KeyError, IndexError, ValueError, AttributeError):
            names = ", ".join(f"{{{name}}}" for name in fields)
            return gettext("Use only the fields %(names)s, e.g. {seq:03}.") % {"names": names}
        if "{seq" not in str(value) or not text:
            return gettext("The pattern must contain {seq} (the sequence number).")
        return None

    return check


# --- writing ----------------------------------------------------------------------------------


def spec_of(key: str) -> SettingSpec:
    return DEFAULTS[key]


@transaction.atomic
def put(key: str, value: Any, *, actor: Any = None, reason: str = "") -> Any:
    """Check ``value`` against the setting's spec, store it and record the change (who, the
    values before and after, why); every process sees it within a minute, at once with Redis.
    Returns the value as stored. An unchanged value records nothing."""
    spec = DEFAULTS[key]
    value = validate(spec, value)
    row = SystemSetting.objects.select_for_update().filter(key=key).first()
    old = spec.default if row is None else row.value
    if row is not None and row.value == value:
        return value
    SystemSetting.objects.update_or_create(key=key, defaults={"value": value})  # signals: changed()
    _record(key, old, value, actor=actor, reason=reason, reset=False)
    return value


@transaction.atomic
def reset(key: str, *, actor: Any = None, reason: str = "") -> Any:
    """Back to the default: the override is removed and the change recorded."""
    spec = DEFAULTS[key]
    row = SystemSetting.objects.select_for_update().filter(key=key).first()
    if row is None:
        return spec.default
    old = row.value
    row.delete()
    _record(key, old, spec.default, actor=actor, reason=reason, reset=True)
    return spec.default


def _record(key: str, old: Any, new: Any, *, actor: Any, reason: str, reset: bool) -> None:
    # The values stay in SettingChange (some settings hold addresses or keys): the audit
    # trail names the setting and the change row.
    change = SettingChange.objects.create(
        key=key,
        old_value=old,
        new_value=new,
        reset=reset,
        changed_by=actor if getattr(actor, "pk", None) else None,
        reason=reason.strip(),
        request_id=current_request_id(),
    )
    audit.record(
        "settings.changed",
        actor=actor,
        target=("core.systemsetting", key),
        details={"key": key, "reset": reset, "change_id": change.pk},
    )


CUSTOMER_NUMBER_PATTERN = define(
    "customers.number_pattern",
    "{industry}-{region}-{seq:03}",
    _("Customer number pattern ({industry}, {region}, {kind}, {year}, {seq:03})"),
    help=_(
        "How new customer numbers (客户编号) are written: M-HU-001 (industry-region-sequence) or "
        "B2B-2026-001 (kind-year-sequence); {seq:03} is the sequence with three digits."
    ),
    check=number_pattern("industry", "region", "kind", "year"),
)
STALE_CONTACT_DAYS = define(
    "customers.stale_contact_days",
    30,
    _("Days after which contact information is stale"),
    unit=DAYS,
    minimum=1,
    maximum=365,
    help=_(
        "When a customer's contact information has not been updated for longer, the owner is "
        "asked to verify it (handbook: 30 days)."
    ),
)
VERIFY_WITHIN_HOURS = define(
    "customers.verify_within_hours",
    24,
    _("Hours after first contact to verify a customer"),
    unit=HOURS,
    minimum=1,
    maximum=720,
    help=_(
        "After the first contact the owner confirms contact details and need within this time and "
        "marks the customer 信息已验证 (handbook: 24 hours)."
    ),
)
