"""Latency of a campaign's member list (GET /api/v1/campaigns/{id}/members) at 100,000 members.

    KEHU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/kehu_bench_l PYTHONPATH=src \\
        .venv/bin/python -m bench.campaign_members [--members 100000] [--rounds 40]

Creates (once; a second run reuses it) the campaign "bench: 100k members" owned by
``bench.manager`` in their department, with the first ``--members`` contacts of the database
as members (bulk inserts, 5,000 per statement; a quarter of them moved on to each later
response), and the user ``bench.marketing`` (role marketing) if missing. Then times the list
through the API's own views (Django's test ``Client``, no HTTP server), after one warm-up
request each: the first page (limit 50), a page filtered by response, a page at offset 5,000,
as marketing (contacts masked) and as the manager. Reports p50 and p95 in milliseconds.

Needs only the campaigns app's first migration (0001), as main has it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

NAME = "bench: 100k members"
BATCH = 5000
RESPONSES = ["invited", "registered", "attended", "interested"]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def ensure_campaign(count: int) -> Any:
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from kehu.accounts.models import Role, User
    from kehu.campaigns.models import Campaign, CampaignMember
    from kehu.customers.models import Contact

    manager = User.objects.get(username="bench.manager")
    if not User.objects.filter(username="bench.marketing").exists():
        User.objects.create_user(username="bench.marketing", password=None, role=Role.MARKETING)
    campaign = Campaign.objects.filter(name=NAME).first()
    if campaign is None:
        today = timezone.localdate()
        campaign = Campaign.objects.create(
            name=NAME,
            kind="email",
            status="running",
            starts_on=today - timedelta(days=30),
            ends_on=today + timedelta(days=30),
            owner=manager,
            department_id=manager.department_id,
        )
    have = CampaignMember.objects.filter(campaign=campaign).count()
    if have >= count:
        return campaign
    started = time.perf_counter()
    taken = set(
        CampaignMember.objects.filter(campaign=campaign).values_list("contact_id", flat=True)
    )
    pairs = (
        Contact.objects.order_by("id")
        .values_list("id", "customer_id")[: count + len(taken)]
        .iterator(chunk_size=BATCH)
    )
    now = timezone.now()
    rows: list[CampaignMember] = []
    made = 0
    for index, (contact_id, customer_id) in enumerate(pairs):
        if contact_id in taken:
            continue
        response = RESPONSES[index % 4]
        rows.append(
            CampaignMember(
                campaign=campaign,
                contact_id=contact_id,
                customer_id=customer_id,
                response=response,
                responded_at=None if response == "invited" else now,
                added_at=now,
            )
        )
        if len(rows) == BATCH or have + made + len(rows) >= count:
            with transaction.atomic():
                CampaignMember.objects.bulk_create(rows)
            made += len(rows)
            rows = []
        if have + made >= count:
            break
    if rows:
        CampaignMember.objects.bulk_create(rows)
        made += len(rows)
    print(f"inserted {made:,} members in {time.perf_counter() - started:.1f}s")
    return campaign


def measure(campaign: Any, rounds: int) -> dict[str, Any]:
    from django.test import Client

    from kehu.accounts.models import User

    base = f"/api/v1/campaigns/{campaign.pk}/members"
    cases = {
        "first page": base + "?limit=50",
        "response=attended": base + "?limit=50&response=attended",
        "offset 5,000": base + "?limit=50&offset=5000",
    }
    results: dict[str, Any] = {}
    for role in ("marketing", "manager"):
        client = Client()
        client.force_login(User.objects.get(username=f"bench.{role}"))
        for label, url in cases.items():
            response = client.get(url)  # warm-up
            assert response.status_code == 200, response.content[:300]
            times = []
            for _round in range(rounds):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            items = response.json()["items"]
            key = f"{role}: {label}"
            results[key] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(_p95(times), 1),
                "items": len(items),
                "masked": items[0]["masked"] if items else None,
            }
            row = results[key]
            print(f"{key:32} p50 {row['p50_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--json", default="")
    options = parser.parse_args()
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    os.environ.setdefault("KEHU_DEBUG", "0")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    campaign = ensure_campaign(options.members)
    results = measure(campaign, options.rounds)
    if options.json:
        with open(options.json, "w") as out:
            json.dump(results, out, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
