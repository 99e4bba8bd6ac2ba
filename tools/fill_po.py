"""Fill a .po catalogue from a JSON dictionary {msgid: msgstr} and compile it.

Usage: python tools/fill_po.py path/to/django.po translations.json
Entries already translated are kept unless the JSON gives a new text. Fuzzy flags are cleared
for the entries it fills. Prints the msgids that are still untranslated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polib


def main(po_path: str, json_path: str) -> int:
    catalogue = polib.pofile(po_path)
    translations = json.loads(Path(json_path).read_text(encoding="utf-8"))
    for entry in catalogue:
        text = translations.get(entry.msgid)
        if text:
            entry.msgstr = text
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
    catalogue.save()
    catalogue.save_as_mofile(str(Path(po_path).with_suffix(".mo")))
    missing = [entry.msgid for entry in catalogue.untranslated_entries()]
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
