"""Column mapping: file headers → import fields, automatic for known headers and synonyms.

A mapping is ``{header: field_key}``; headers mapped to ``""`` are ignored. Saved mappings
(``ImportMapping``) are reused by name in the UI and with ``kehu import --mapping NAME``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from django.utils.translation import gettext as _

from kehu.core.errors import InvalidInput
from kehu.transfer.models import ImportMapping
from kehu.transfer.specs import FieldSpec, fields_for, spec_map

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def header_key(header: str) -> str:
    """Compare headers ignoring width, case, spaces, punctuation and a required marker."""
    text = unicodedata.normalize("NFKC", header or "").casefold().strip().rstrip("*").strip()
    return _NOISE.sub("", text)


def _names(spec: FieldSpec) -> list[str]:
    return [spec.zh, spec.en, spec.header, *spec.synonyms]


def known_headers(kind: str) -> dict[str, str]:
    """Every known header key → field key (templates' names first, then synonyms)."""
    table: dict[str, str] = {}
    for spec in fields_for(kind):
        for name in _names(spec):
            table.setdefault(header_key(name), spec.key)
    return table


def auto_map(kind: str, headers: list[str]) -> dict[str, str]:
    """Map each header to a field; each field is used once (the leftmost column wins)."""
    table = known_headers(kind)
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for header in headers:
        if not header:
            continue
        candidates = [header, *re.split(r"\s*[/|｜]\s*", header)]
        target = ""
        for candidate in candidates:
            key = table.get(header_key(candidate), "")
            if key and key not in used:
                target = key
                break
        if target:
            used.add(target)
        mapping[header] = target
    return mapping


def parse_mapping_option(kind: str, value: str) -> dict[str, str] | None:
    """``--mapping``: a saved mapping's name or an inline JSON object ``{"header": "field"}``."""
    value = (value or "").strip()
    if not value:
        return None
    if value.startswith("{"):
        try:
            data: Any = json.loads(value)
        except json.JSONDecodeError as error:
            raise InvalidInput(
                _("The mapping is not valid JSON: %(error)s") % {"error": error}
            ) from error
        return validate_mapping(kind, data)
    saved = ImportMapping.objects.filter(name=value).first()
    if saved is None:
        raise InvalidInput(_("There is no saved mapping named %(name)s.") % {"name": value})
    if saved.kind != kind:
        raise InvalidInput(
            _("The mapping %(name)s is for %(kind)s imports.")
            % {"name": value, "kind": saved.get_kind_display()}
        )
    return validate_mapping(kind, saved.columns)


def validate_mapping(kind: str, data: Any) -> dict[str, str]:
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str | None) for k, v in data.items()
    ):
        raise InvalidInput(_("A mapping is an object of column name → field name."))
    fields = spec_map(kind)
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for header, target in data.items():
        target = (target or "").strip()
        if target and target not in fields:
            errors.setdefault(header, []).append(_("Unknown field %(field)s.") % {"field": target})
            continue
        if target and target in seen:
            errors.setdefault(header, []).append(
                _("Columns %(first)s and %(second)s both map to %(field)s.")
                % {"first": seen[target], "second": header, "field": fields[target].zh}
            )
            continue
        if target:
            seen[target] = header
        mapping[header] = target
    if errors:
        raise InvalidInput(_("The column mapping is not valid."), errors=errors)
    return mapping


def resolve(kind: str, headers: list[str], chosen: dict[str, str] | None) -> dict[str, str]:
    """The mapping to use: the automatic one, overridden by the user's choices."""
    mapping = auto_map(kind, headers)
    if chosen:
        present = set(headers)
        for header, target in chosen.items():
            if header in present:
                mapping[header] = target
        validate_mapping(kind, mapping)
    return mapping


def column_indexes(kind: str, headers: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """field key → column index; refuses a mapping without the required fields."""
    indexes: dict[str, int] = {}
    for index, header in enumerate(headers):
        target = mapping.get(header, "")
        if target:
            indexes[target] = index
    missing = [spec for spec in fields_for(kind) if spec.required and spec.key not in indexes]
    if missing:
        found = ", ".join(h for h in headers if h)[:500]
        raise InvalidInput(
            _("No column is mapped to %(fields)s. Columns found: %(found)s")
            % {"fields": ", ".join(f"{spec.zh} ({spec.en})" for spec in missing), "found": found},
            code="missing_column",
        )
    return indexes
