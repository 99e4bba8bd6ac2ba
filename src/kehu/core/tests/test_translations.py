"""zh-hans is complete everywhere and every compiled catalogue matches its source."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest

SOURCE = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(SOURCE.glob("**/locale/zh_Hans/LC_MESSAGES/django.po"))


def test_there_are_catalogues() -> None:
    assert SOURCE / "locale/zh_Hans/LC_MESSAGES/django.po" in CATALOGUES


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_catalogue_is_complete_and_compiled(path: Path) -> None:
    catalogue = polib.pofile(str(path))
    keys = [(entry.msgctxt, entry.msgid) for entry in catalogue]
    twice = sorted({key[1] for key in keys if keys.count(key) > 1})
    # msgfmt refuses a catalogue with a message defined twice (a merge leftover), which
    # leaves the compiled catalogue stale.
    assert not twice, f"defined twice in {path}: {twice[:10]}"
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert not untranslated, f"untranslated in {path}: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in {path}: {fuzzy[:10]}"
    compiled = path.with_suffix(".mo")
    assert compiled.exists(), f"{compiled} is missing: run compilemessages"
    in_mo = {(entry.msgctxt, entry.msgid): entry.msgstr for entry in polib.mofile(str(compiled))}
    for entry in catalogue.translated_entries():
        assert in_mo.get((entry.msgctxt, entry.msgid)) == entry.msgstr, (
            f"{compiled} is out of date for {entry.msgid!r}: run compilemessages"
        )
