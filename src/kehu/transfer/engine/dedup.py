"""Dedup keys of an import: names by prefix (database and file), and the file's earlier keys."""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterable
from pathlib import Path

from rapidfuzz import fuzz

from kehu.customers.models import (
    Customer,
    CustomerKind,
)
from kehu.customers.normalize import company_key
from kehu.transfer.cleaning import RowResult
from kehu.transfer.engine.common import NAME_CANDIDATES, NAME_PREFIX


class DuplicateIndex:
    """Dedup keys of the rows seen so far in the file and of the database (loaded per batch).

    Kept compact (a 1,000,000-row import must stay in bounded memory): per name prefix only
    the first ``NAME_CANDIDATES`` names — the only ones ``name_matches`` ever compares — as one
    string plus an array of their refs. The customer import keeps the keys of earlier rows in
    ``FileKeys``; ``file_keys`` serves the other import kinds.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.file_keys: dict[str, int] = {}  # "p:+86…" → first line (other import kinds)
        self._name_keys: dict[str, str] = {}  # prefix → "key\nkey\n…" (in the order added)
        self._name_refs: dict[str, array[int]] = {}  # prefix → the refs of those keys
        self.names_loaded = False

    def load_names(self) -> None:
        """Existing company names by prefix (once per import; refs > 0 are customer ids)."""
        if self.names_loaded:
            return
        for pk, key in Customer.objects.values_list("pk", "name_key").iterator(chunk_size=5000):
            self.add_name(key, pk)
        self.names_loaded = True

    def name_matches(self, key: str) -> list[tuple[int, float]]:
        prefix = key[:NAME_PREFIX]
        keys = self._name_keys.get(prefix)
        if keys is None:
            return []
        found: list[tuple[int, float]] = []
        for ref, other in zip(self._name_refs[prefix], keys.split("\n")[:-1], strict=True):
            score = 100.0 if other == key else float(fuzz.ratio(key, other))
            if score >= self.threshold:
                found.append((ref, score))
        return found

    def add_name(self, key: str, ref: int) -> None:
        if not key:
            return
        prefix = key[:NAME_PREFIX]
        refs = self._name_refs.get(prefix)
        if refs is None:
            self._name_refs[prefix] = array("q", [ref])
            self._name_keys[prefix] = key + "\n"  # company keys hold no white space
        elif len(refs) < NAME_CANDIDATES:
            refs.append(ref)
            self._name_keys[prefix] += key + "\n"


class FileKeys:
    """The first file line of every dedup key (phone, e-mail, credit code) seen so far.

    A 1,000,000-row file has ~2,000,000 keys: in a dict they took ~200 MB, so they live in a
    temporary SQLite file beside the job (deleted afterwards). Per batch, ``start_batch`` reads
    the known lines of the batch's keys in a few queries and ``end_batch`` adds the batch's new
    keys, so the rows of a batch see each other and every earlier row, exactly as before.
    """

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE keys (key TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID")
        self._known: dict[str, int] = {}
        self._batch: dict[str, int] = {}

    def __enter__(self) -> FileKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)

    def start_batch(self, keys: Iterable[str]) -> None:
        wanted = list(set(keys))
        self._known, self._batch = {}, {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ", ".join("?" * len(part))
            query = f"SELECT key, line FROM keys WHERE key IN ({marks})"
            self._known.update(self._db.execute(query, part).fetchall())

    def first_line(self, key: str) -> int | None:
        line = self._known.get(key)
        return self._batch.get(key) if line is None else line

    def remember(self, key: str, line: int) -> None:
        if key not in self._known:
            self._batch.setdefault(key, line)

    def end_batch(self) -> None:
        # one transaction per batch: in autocommit each key was a transaction of its own
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO keys VALUES (?, ?)", self._batch.items())
        self._known, self._batch = {}, {}


def row_keys(row: RowResult) -> list[str]:
    """The row's dedup keys: ``c:`` credit code, ``p:`` phones, ``e:`` e-mail."""
    if row.dedup_keys is not None:
        return row.dedup_keys
    values = row.values
    keys: list[str] = []
    if values.get("credit_code"):
        keys.append(f"c:{values['credit_code']}")
    for name in ("contact_mobile", "contact_work_phone"):
        if values.get(name):
            keys.append(f"p:{values[name].split(';')[0]}")
    if values.get("contact_email"):
        keys.append(f"e:{values['contact_email'].lower()}")
    return keys


def name_key_of(row: RowResult) -> str:
    """The company key its name is compared by ("" for a person, never compared by name)."""
    if row.values.get("kind", CustomerKind.COMPANY) != CustomerKind.COMPANY:
        return ""
    if row.name_key is not None:
        return row.name_key
    return company_key(row.values.get("name", ""))
