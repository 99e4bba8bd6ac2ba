"""The audit trail's costs: one ``record`` (the chain head's lock, the entry, the head),
``verify`` over the whole trail and the retention ``purge``.

    KEHU_DATA_DIR=/tmp/kehu-bench-audit .venv/bin/python -m bench.audit --entries 20000
    KEHU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/NAME .venv/bin/python -m bench.audit

Uses the configured database (migrated first) and adds ``--entries`` entries to it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20_000)
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from kehu.core import audit
    from kehu.core.models import AuditEntry

    call_command("migrate", "--noinput", "-v", "0")
    laps: list[float] = []
    started = time.perf_counter()
    for index in range(options.entries):
        begin = time.perf_counter()
        audit.record(
            "auth.sign_in_failed",
            actor_name=f"bench{index % 50}",
            details={"attempt": index},
        )
        laps.append(time.perf_counter() - begin)
    total = time.perf_counter() - started
    print(f"database: {connection.vendor}, entries now {AuditEntry.objects.count():,}")
    print(
        f"record: {options.entries:,} in {total:.1f} s, {options.entries / total:,.0f}/s, "
        f"median {statistics.median(laps) * 1000:.2f} ms, "
        f"p95 {sorted(laps)[int(len(laps) * 0.95)] * 1000:.2f} ms"
    )
    begin = time.perf_counter()
    result = audit.verify()
    elapsed = time.perf_counter() - begin
    print(
        f"verify: {result.checked:,} entries in {elapsed:.1f} s "
        f"({result.checked / max(elapsed, 1e-9):,.0f}/s), ok={result.ok}"
    )
    begin = time.perf_counter()
    purged = audit.purge(timezone.now() + timedelta(seconds=1))
    print(f"purge: {purged.deleted:,} entries in {time.perf_counter() - begin:.1f} s")
    print(f"verify after purge: ok={audit.verify().ok}")


if __name__ == "__main__":
    main()
