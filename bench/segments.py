"""Time the count of three typical segments (``kehu.campaigns.selectors.segments``) against a
read-only database, e.g. the shared size-L one::

    KEHU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/kehu_bench_l \\
        kehu manage shell -c "from bench.segments import main; main()"

Nothing is written: the trees are counted unsaved (``rows_for``, what the builder's live count
and ``/api/v1/segments/count`` run), as a marketing user (every customer) and as a manager
(their departments). Prints the p50 and the worst of ``runs`` counts per segment and viewer.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from kehu.accounts.models import Role, User
from kehu.campaigns.selectors.segments import rows_for
from kehu.customers.models import Tag


def segments() -> list[tuple[str, str, dict[str, Any]]]:
    tag = Tag.objects.order_by("id").values_list("name", flat=True).first()
    return [
        (
            "华东制造业 won/intent",
            "customers",
            {
                "match": "all",
                "conditions": [
                    {"field": "industry", "op": "in", "value": ["C"]},
                    {"field": "region", "op": "in", "value": ["310000", "320000", "330000"]},
                    {"field": "status", "op": "in", "value": ["won", "intent"]},
                ],
            },
        ),
        (
            "tagged, silent 90 days, grade A/B",
            "customers",
            {
                "match": "all",
                "conditions": [
                    *([{"field": "tags", "op": "any_of", "value": [tag]}] if tag else []),
                    {"field": "last_contact", "op": "older_than_days", "value": 90},
                    {"field": "grade", "op": "in", "value": ["A", "B"]},
                ],
            },
        ),
        (
            "decision makers with e-mail (contacts), trade show or new",
            "contacts",
            {
                "match": "all",
                "conditions": [
                    {"field": "decision_maker", "op": "is", "value": True},
                    {"field": "has_email", "op": "is", "value": True},
                    {
                        "match": "any",
                        "conditions": [
                            {"field": "source", "op": "in", "value": ["trade_show"]},
                            {"field": "created", "op": "within_days", "value": 365},
                        ],
                    },
                ],
            },
        ),
    ]


def main(runs: int = 5) -> None:
    viewers = [
        User.objects.filter(role=Role.MARKETING, is_active=True).first()
        or User.objects.filter(role=Role.ADMIN).first(),
        User.objects.filter(role=Role.MANAGER, is_active=True).order_by("id").first(),
    ]
    for name, target, tree in segments():
        for viewer in viewers:
            if viewer is None:
                continue
            times = []
            count = 0
            for _run in range(runs):
                started = time.perf_counter()
                count = rows_for(target, tree, viewer).order_by().count()
                times.append((time.perf_counter() - started) * 1000)
            print(
                f"{name:58} {viewer.role:9} count={count:>9,} "
                f"p50={statistics.median(times):7.1f} ms max={max(times):7.1f} ms"
            )
