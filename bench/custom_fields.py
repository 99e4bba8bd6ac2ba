"""In-process latency of customer lists filtered on a filterable custom field (issue 31,
item 4: p50 ≤ 20 ms at size L), on a loaded bench database (no server, no wrk).

    KEHU_DATA_DIR=/tmp/kehu-bench/sqlite-m PYTHONPATH=src \\
        .venv/bin/python -m bench.custom_fields [--rounds 5] [--json out.json]

(``KEHU_DATABASE_URL=postgresql://…/kehu_bench_m`` for PostgreSQL.) The first run defines a
filterable single-choice field ``bench_level`` (一级…五级) on customers, through the service,
so its expression index is built as an administrator's click builds it, and fills every
customer's value in batches of 5,000 keys (one ``UPDATE … WHERE id IN`` each: the timed part
is the reads). Then, through the API's own views (Django's test ``Client``) as
``bench.manager`` and ``bench.sales``, it times ``GET /api/v1/customers?cf=bench_level:<v>``
for each value, alone and with ``q``/``status``, limit 50, and prints median and p95 after
a warm-up round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.parse
from typing import Any

LEVELS = ["一级", "二级", "三级", "四级", "五级"]
BATCH = 5_000


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def prepare() -> None:
    from django.db import transaction
    from django.db.models import IntegerField, Value
    from django.db.models.functions import Mod

    from kehu.accounts.models import User
    from kehu.customers.models import Customer
    from kehu.integrations.models import CustomField
    from kehu.integrations.services import custom_fields

    admin = User.objects.filter(role="admin", is_active=True).order_by("pk").first()
    if admin is None:
        raise SystemExit("no active administrator in the bench database")
    if not CustomField.objects.filter(kind="customer", key="bench_level").exists():
        started = time.perf_counter()
        custom_fields.custom_field_create(
            actor=admin,
            data={
                "kind": "customer",
                "key": "bench_level",
                "label_zh": "经销商级别",
                "label_en": "Dealer level",
                "type": "choice",
                "choices": LEVELS,
                "filterable": True,
            },
        )
        print(f"field and index created in {time.perf_counter() - started:.1f} s")
    missing = Customer.objects.exclude(custom__has_key="bench_level")
    ids = list(missing.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        with transaction.atomic():
            for index, level in enumerate(LEVELS):
                Customer.objects.filter(pk__in=chunk).annotate(
                    bucket=Mod("id", Value(len(LEVELS)), output_field=IntegerField())
                ).filter(bucket=index).update(custom={"bench_level": level})
    if ids:
        print(f"{len(ids)} customers given a level in {time.perf_counter() - started:.1f} s")


def measure(rounds: int) -> dict[str, dict[str, Any]]:
    from django.test import Client

    from kehu.accounts.models import User

    results: dict[str, dict[str, Any]] = {}
    kinds: dict[str, tuple[str, list[str]]] = {}
    for role in ("manager", "sales"):
        paths = [
            f"/api/v1/customers?limit=50&cf={urllib.parse.quote(f'bench_level:{level}')}"
            for level in LEVELS
        ]
        kinds[f"customers: custom field filter, {role}"] = (role, paths)
        kinds[f"customers: custom field + status, {role}"] = (
            role,
            [f"{path}&status=potential" for path in paths],
        )
        kinds[f"customers: custom field + search, {role}"] = (
            role,
            [f"{path}&q={urllib.parse.quote('有限公司')}" for path in paths],
        )
    clients: dict[str, Client] = {}
    for kind, (role, paths) in kinds.items():
        if role not in clients:
            clients[role] = Client()
            clients[role].force_login(User.objects.get(username=f"bench.{role}"))
        client = clients[role]
        for path in paths:
            assert client.get(path).status_code == 200, path
        times, cpu = [], []
        for _round in range(rounds):
            for path in paths:
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(path)
                cpu.append((time.process_time() - cpu_started) * 1000)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, path
        results[kind] = {
            "requests": len(times),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(_p95(times), 1),
            "cpu_p50_ms": round(statistics.median(cpu), 1),
        }
        row = results[kind]
        print(
            f"{kind:46s} p50 {row['p50_ms']:6.1f} p95 {row['p95_ms']:6.1f} | "
            f"CPU p50 {row['cpu_p50_ms']:6.1f}"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", default="")
    options = parser.parse_args()
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    os.environ.setdefault("KEHU_DEBUG", "0")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    prepare()
    results = measure(options.rounds)
    if options.json:
        with open(options.json, "w") as out:
            json.dump(results, out, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
