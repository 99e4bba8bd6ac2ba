"""In-process latency of the search requests on a loaded bench database (no server, no wrk).

    KEHU_DATA_DIR=/tmp/kehu-bench/sqlite-m PYTHONPATH=src \\
        .venv/bin/python -m bench.search_latency [--rounds 3] [--json out.json]

Each search kind runs 24 different terms, drawn as ``bench.run.build_scenarios`` draws them
(seeded) from the sales rep's customers, through the API's own views (Django's test
``Client``, logged in as ``bench.manager`` or ``bench.sales``; limit 50, as the wrk rows), and
reports the median and p95 of every request after one warm-up round, in wall-clock time and
in the process's CPU time (which includes SQLite's work and varies less with other load on
the machine). It measures the code and the database only: no HTTP server, no network.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
import urllib.parse
from typing import Any

TERMS = 24
COMMON_CUSTOMER_TERMS = ["有限公司", "科技", "电子", "上海", "yxgs", "138", "gongsi", "技术"]
COMMON_CONTACT_TERMS = ["example", "138", "zhang", "wang", "@example.cn", "李", "86"]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def kinds(seed: int) -> dict[str, tuple[str, list[str]]]:
    """Search kind → (user, request paths)."""
    from kehu.accounts.models import User
    from kehu.customers.models import Contact, Customer
    from kehu.customers.normalize import pinyin_keys

    rng = random.Random(seed)
    sales = User.objects.get(username="bench.sales")
    oldest = Customer.objects.filter(owner=sales).order_by("id").values_list("id", flat=True)
    picked = rng.sample(list(oldest[:20_000]), 200)
    names = dict(Customer.objects.filter(pk__in=picked).values_list("id", "name"))
    contacts = list(
        Contact.objects.filter(customer_id__in=picked).values_list("name", "email", "mobile")
    )
    rng.shuffle(contacts)
    name_terms, initials = [], []
    for pk in picked[:TERMS]:
        core = re.sub(r"(股份)?有限(责任)?公司$", "", names[pk])
        start = rng.randint(1, max(1, len(core) - 4))
        name_terms.append(core[start : start + 4])
        initials.append(pinyin_keys(core[start : start + 4])[1])
    mobiles = [mobile for _name, _email, mobile in contacts if mobile][:TERMS]
    emails = [email.split("@")[0][:6] for _name, email, _mobile in contacts if email][:TERMS]
    people = [name for name, _email, _mobile in contacts][:TERMS]
    # 4–7 digits from anywhere in the number, and the q=5555
    digits = ["5555"] + [m[-rng.randint(4, 7) :] for m in mobiles[: TERMS - 1]]

    def customers(terms: list[str]) -> list[str]:
        return [f"/api/v1/customers?limit=50&q={urllib.parse.quote(t)}" for t in terms]

    def contacts_of(terms: list[str]) -> list[str]:
        return [f"/api/v1/contacts?limit=50&q={urllib.parse.quote(t)}" for t in terms]

    return {
        "customers: name fragment (4 chars), manager": ("manager", customers(name_terms)),
        "customers: name, two characters, manager": (
            "manager",
            customers([t[:2] for t in name_terms]),
        ),
        "customers: pinyin initials, manager": ("manager", customers(initials)),
        "customers: phone digits (last 8), manager": (
            "manager",
            customers([m[-8:] for m in mobiles]),
        ),
        "customers: name fragment, sales rep": ("sales", customers(name_terms)),
        "contacts: phone digits (4-7, incl. 5555), manager": ("manager", contacts_of(digits)),
        "contacts: phone digits (4-7, incl. 5555), sales rep": ("sales", contacts_of(digits)),
        "contacts: name, manager": ("manager", contacts_of(people)),
        "contacts: email fragment, manager": ("manager", contacts_of(emails)),
        # terms most customers or contacts match: a page is found at once, the count is capped
        "customers: common terms, manager": ("manager", customers(COMMON_CUSTOMER_TERMS)),
        "contacts: common terms, manager": ("manager", contacts_of(COMMON_CONTACT_TERMS)),
    }


def measure(rounds: int, seed: int, only: str = "") -> dict[str, dict[str, Any]]:
    from django.test import Client

    from kehu.accounts.models import User

    clients = {}
    for role in ("manager", "sales"):
        client = Client()
        client.force_login(User.objects.get(username=f"bench.{role}"))
        clients[role] = client
    results: dict[str, dict[str, Any]] = {}
    for kind, (role, paths) in kinds(seed).items():
        if only not in kind:
            continue
        client = clients[role]
        for path in paths:  # warm-up: caches, the first request of each term
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
            "terms": len(paths),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(_p95(times), 1),
            "max_ms": round(max(times), 1),
            "cpu_p50_ms": round(statistics.median(cpu), 1),
            "cpu_p95_ms": round(_p95(cpu), 1),
        }
        row = results[kind]
        print(
            f"{kind:52s} p50 {row['p50_ms']:6.1f} p95 {row['p95_ms']:6.1f} | "
            f"CPU p50 {row['cpu_p50_ms']:6.1f} p95 {row['cpu_p95_ms']:6.1f}"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default="")
    parser.add_argument("--only", default="", help="only the kinds whose name contains this")
    options = parser.parse_args()
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    os.environ.setdefault("KEHU_DEBUG", "0")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    results = measure(options.rounds, options.seed, options.only)
    if options.json:
        with open(options.json, "w") as out:
            json.dump(results, out, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
