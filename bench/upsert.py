"""Bulk upsert speed (issue 31: ≥ 2,000 records/s on PostgreSQL).

    KEHU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_ext \\
        .venv/bin/python -m bench.upsert --batches 5 --runs 3

Runs in process against the database named by ``KEHU_DATABASE_URL`` (migrated first; use a
database of your own, never a shared bench database), as an administrator through the API
(``POST /api/v1/customers/upsert`` with the Django test client: JSON parsing, the per-record
savepoints, the customer services, the answer's serialisation). Each run sends ``--batches``
calls of 1,000 new customers of one system (``created``; names as ``bench/importdata.py``
makes them, so the dedup finds a few look-alikes: those answer ``duplicate`` errors, counted
and printed), the same calls again (``unchanged``) and the calls with one field changed in
every record (``updated``), and prints records/s per phase (every record sent counts) and
per CPU second of the bench process (the web side's CPU; PostgreSQL's is not included: on a
shared machine the wall clock mostly measures the neighbours); the summary is the median over
``--runs`` runs (each run its own system name, so runs do not see each other's ids).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from typing import Any

from bench import importdata

BATCH = 1000


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    os.environ.setdefault("KEHU_DEBUG", "0")
    os.environ.setdefault("KEHU_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _names(system: str, count: int) -> list[str]:
    """Company names as ``bench/importdata.py`` makes them (city, brand, trade, legal form),
    each distinct, seeded by the run's system so the phases of a run send the same ones."""
    rng = random.Random(system)
    names: list[str] = []
    used: set[str] = set()
    while len(names) < count:
        city = rng.choice(importdata.CITIES)[0]
        brand = "".join(rng.choice(importdata.BRAND) for _ in range(rng.choice((3, 4))))
        name = city + brand + rng.choice(importdata.TRADES)[0] + rng.choice(importdata.LEGAL)
        if name not in used:
            used.add(name)
            names.append(name)
    return names


def _records(system: str, batch: int, note: str, names: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "system": system,
            "id": f"C{batch:03d}{i:04d}",
            "data": {
                "name": names[batch * BATCH + i],
                "address": f"上海市浦东新区测试路{i}号",
                "notes": note,
                "industry": "I",
                "employees_band": "50-300",
                "source": "referral",
                "initial_need": "ERP 对接",
                "contacts": [{"name": "王经理", "email": f"c{batch}-{i}@{system}.example.cn"}],
            },
        }
        for i in range(BATCH)
    ]


def run_once(client: Any, batches: int) -> dict[str, float]:
    system = "erp" + uuid.uuid4().hex[:8]
    names = _names(system, batches * BATCH)
    rates: dict[str, float] = {}
    for phase, note in (("created", "一"), ("unchanged", "一"), ("updated", "二")):
        started = time.perf_counter()
        cpu_started = time.process_time()
        totals: Counter[str] = Counter()
        for batch in range(batches):
            records = _records(system, batch, note, names)
            body = json.dumps({"records": records}, ensure_ascii=False)
            answer = client.post("/api/v1/customers/upsert", body, content_type="application/json")
            assert answer.status_code == 200, answer.content[:500]
            results = answer.json()["results"]
            totals.update(r["result"] if r["result"] != "error" else r["code"] for r in results)
            odd = [r for r in results if r["result"] == "error" and r["code"] != "duplicate"]
            assert not odd, odd[:3]
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        rates[phase] = batches * BATCH / seconds
        rates[f"{phase} per CPU s"] = batches * BATCH / cpu
        print(
            f"  {phase:9} {rates[phase]:8.0f} records/s ({seconds:.1f} s wall, {cpu:.1f} s CPU "
            f"of this process: {batches * BATCH / cpu:.0f} records per CPU second) "
            f"{dict(totals)}",
            flush=True,
        )
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=5, help="calls of 1,000 records per phase")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=1000, help="records per call (≤ 1,000)")
    args = parser.parse_args(argv)
    global BATCH
    BATCH = min(max(args.size, 1), 1000)
    _setup()
    from django.test import Client

    from kehu.accounts.models import Role, User

    admin = User.objects.filter(username="bench.upsert").first()
    if admin is None:
        admin = User.objects.create_user(
            username="bench.upsert", password=uuid.uuid4().hex, role=Role.ADMIN
        )
    from kehu.accounts import services as accounts

    token = accounts.token_create(user=admin, name="bench upsert").plaintext
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")
    from django.db import connection

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}", flush=True)
    runs: list[dict[str, float]] = []
    for number in range(args.runs):
        print(f"run {number + 1}:", flush=True)
        runs.append(run_once(client, args.batches))
    print("median records/s over runs:")
    for phase in ("created", "unchanged", "updated"):
        wall = statistics.median(r[phase] for r in runs)
        per_cpu = statistics.median(r[f"{phase} per CPU s"] for r in runs)
        print(f"  {phase:9} {wall:8.0f} (per CPU second of the client: {per_cpu:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
