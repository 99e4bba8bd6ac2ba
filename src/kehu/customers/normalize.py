"""Normalisation for duplicate detection and search: width, legal suffixes, pinyin, digits."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

LEGAL_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团公司",
    "总公司",
    "分公司",
    "公司",
    "co.,ltd.",
    "co.,ltd",
    "co.ltd.",
    "co.ltd",
    "ltd.",
    "ltd",
    "inc.",
    "inc",
)
_PARENTHESISED = re.compile(r"\([^)]*\)")
_NOT_WORD = re.compile(r"[\s\W_]+", re.UNICODE)
_NOT_DIGIT = re.compile(r"\D+")


def fold(text: str) -> str:
    """Full-width to half-width (NFKC), lower case, trimmed."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def company_key(name: str) -> str:
    """The name two records of one company share: 上海某某科技有限公司（北京） → 上海某某科技."""
    key = _PARENTHESISED.sub("", fold(name))
    key = _NOT_WORD.sub("", key)
    changed = True
    while changed:
        changed = False
        for suffix in LEGAL_SUFFIXES:
            compact = _NOT_WORD.sub("", suffix)
            if key.endswith(compact) and len(key) > len(compact):
                key = key[: -len(compact)]
                changed = True
    return key


@lru_cache(maxsize=65536)
def pinyin_keys(text: str) -> tuple[str, str]:
    """Full pinyin and initials of the Chinese characters: 上海科技 → (shanghaikeji, shkj)."""
    syllables = [s for s in lazy_pinyin(text, errors="ignore") if s.isascii() and s.isalpha()]
    initials = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(syllables).lower(), "".join(i for i in initials if i.isalpha()).lower()


def digits(text: str) -> str:
    return _NOT_DIGIT.sub("", text or "")


def search_text(*, name: str, number: str, extra: Iterable[str] = ()) -> str:
    """One lower-case text per customer that every kind of search matches against."""
    full, initials = pinyin_keys(fold(name))
    parts = [fold(name), number.lower(), full, initials]
    parts.extend(fold(value) for value in extra if value)
    return " ".join(part for part in parts if part)
