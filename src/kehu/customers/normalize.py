"""Normalisation for duplicate detection and search: width, legal suffixes, pinyin, digits."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from kehu.core import custom_fields

# One phone normalisation for every app; callers outside customers still import it from here.

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
_COMPACT_SUFFIXES = tuple(_NOT_WORD.sub("", suffix) for suffix in LEGAL_SUFFIXES)  # in order


def fold(text: str) -> str:
    """Full-width to half-width (NFKC), lower case, trimmed."""
    return unicodedata.normalize("NFKC", text).strip().lower()


@lru_cache(maxsize=8192)  # an import asks twice per row: the duplicate check, then the save
def company_key(name: str) -> str:
    """The name two records of one company share: 上海某某科技有限公司（北京） → 上海某某科技."""
    key = _PARENTHESISED.sub("", fold(name))
    key = _NOT_WORD.sub("", key)
    changed = True
    while changed and key.endswith(_COMPACT_SUFFIXES):
        changed = False
        for compact in _COMPACT_SUFFIXES:
            if key.endswith(compact) and len(key) > len(compact):
                key = key[: -len(compact)]
                changed = True
    return key


@lru_cache(maxsize=4096)  # whole names rarely repeat; the word cache below does the work
def pinyin_keys(text: str) -> tuple[str, str]:
    """Full pinyin and initials of the Chinese characters: 上海科技 → (shanghaikeji, shkj).

    pypinyin segments the text into words (its phrase dictionary decides polyphones, 银行 →
    yinhang) and converts each word on its own, so the result is the concatenation of the
    words' pinyin; words recur across names (cities, trades, 有限公司), hence the word cache.
    """
    from pypinyin.seg.simpleseg import seg  # the segmenter lazy_pinyin itself uses

    full: list[str] = []
    initials: list[str] = []
    for word in seg(text):
        word_full, word_initials = _word_pinyin(word)
        full.append(word_full)
        initials.append(word_initials)
    return "".join(full), "".join(initials)


@lru_cache(maxsize=65536)
def _word_pinyin(word: str) -> tuple[str, str]:
    from pypinyin import Style, lazy_pinyin

    syllables = [s for s in lazy_pinyin(word, errors="ignore") if s.isascii() and s.isalpha()]
    initials = lazy_pinyin(word, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(syllables).lower(), "".join(i for i in initials if i.isalpha()).lower()


def digits(text: str) -> str:
    return _NOT_DIGIT.sub("", text or "")


def search_text(
    *,
    name: str,
    number: str,
    extra: Iterable[str] = (),
    pinyin: tuple[str, str] | None = None,
) -> str:
    """One lower-case text per customer that every kind of search matches against.

    ``pinyin`` may carry the name's (full, initials) when the caller already knows them
    (the demo generator assembles names from parts whose pinyin it computed once).
    """
    full, initials = pinyin if pinyin is not None else pinyin_keys(fold(name))
    parts = [fold(name), number.lower(), full, initials]
    parts.extend(fold(value) for value in extra if value)
    text = " ".join(part for part in parts if part)
    pairs = han_pairs(text)
    return f"{text} {pairs}" if pairs else text


# Han characters: CJK unified ideographs, extension A, compatibility ideographs.
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
PAIR_MARK = "x"


def han_pairs(text: str) -> str:
    """The runs of two or more Han characters in ``text``, each with ``PAIR_MARK`` between its
    characters: 上海瑞德 → 上x海x瑞x德.

    Two characters are how people search a Chinese name (瑞德, 华为), and a trigram index
    cannot look up a two-character term: PostgreSQL read all 1,000,000 customers for one
    (670 ms at size L). Spelled the paired way the term is three characters, 瑞x德
    (``pair_term``), which the index looks up like any other.
    """
    return " ".join(PAIR_MARK.join(run) for run in _HAN_RUN.findall(text))


def contact_custom_text(custom: Mapping[str, Any] | None) -> str:
    """A contact's ``custom_text``: its stored-searchable custom values (``custom_fields.
    search_text``) folded, with the paired spellings of their Han runs, so that the contact
    search finds a two-character term (华东) through the trigram index like any other."""
    text = fold(custom_fields.search_text("contact", custom)) if custom else ""
    pairs = han_pairs(text)
    return f"{text} {pairs}" if pairs else text


def pair_term(term: str) -> str | None:
    """A two-Han-character search term as ``han_pairs`` spells it (瑞德 → 瑞x德), else None."""
    return PAIR_MARK.join(term) if len(term) == 2 and _HAN_RUN.fullmatch(term) else None


def phone_display(value: str) -> str:
    """E.164 shown the way people write it: +86 138 1234 5678."""
    import phonenumbers

    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# Key fields of 信息完整度: the name always counts; a reachable contact counts as one field.
COMPLETENESS_TEXT_FIELDS = ("employees_band", "source", "initial_need", "address")
COMPLETENESS_FK_FIELDS = ("industry_id", "region_id")
COMPLETENESS_TOTAL = 1 + len(COMPLETENESS_TEXT_FIELDS) + len(COMPLETENESS_FK_FIELDS) + 1


def completeness(customer: object, *, reachable_contact: bool) -> int:
    """Percentage of the key fields filled (name, industry, region, size, source, need,
    address, a contact with a phone or email)."""
    filled = 1 + int(reachable_contact)
    filled += sum(1 for name in COMPLETENESS_TEXT_FIELDS if getattr(customer, name, ""))
    filled += sum(1 for name in COMPLETENESS_FK_FIELDS if getattr(customer, name, None))
    return (100 * filled + COMPLETENESS_TOTAL // 2) // COMPLETENESS_TOTAL  # half rounds up
