"""The entry rules (docs/data-entry.md) relaxed for tests that are about something else.

The handbooks' required fields (industry, size, source, need, a contact way) would make every
test that creates "上海某某有限公司" with a name alone spell out a whole customer. Each test
runs with the rules below, what the models demand anyway, unless it is marked
``@pytest.mark.entry_rules``: then it sees the shipped defaults, as a real installation does.
Only the defaults change: a value an admin (or the test) stores with ``config.put`` wins.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kehu.core import config

RELAXED: dict[str, Any] = {
    "customers.required_fields": ["name"],
    "customers.contact_required_fields": ["name"],
    "customers.private_mobile_needs_reason": False,
    "leads.required_fields": ["contact_name", "contact", "source"],
    "opportunities.required_fields": [],  # deals of tests need no stated need
}


def relax(monkeypatch: Any) -> None:
    for key, value in RELAXED.items():
        spec = config.DEFAULTS.get(key)
        if spec is not None:
            monkeypatch.setitem(config.DEFAULTS, key, dataclasses.replace(spec, default=value))
