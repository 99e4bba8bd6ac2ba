"""Time the per-batch reads of the score recompute (``analytics.services.scores``) against a
read-only database, e.g. the shared size-L one::

    KEHU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/kehu_bench_l \\
        kehu manage shell -c "from bench.scores_reads import main; main()"

The follow-up read leaves out ``renewal_intent`` so it also runs on a database migrated before
that column; nothing is written.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from kehu.analytics.services import scores
from kehu.customers.models import Customer
from kehu.followups.models import FollowUp
from kehu.opportunities.models import Opportunity, StageKind
from kehu.service.models import OPEN_TICKET_STATUSES, Survey, Ticket, TicketType

OFFSETS = (0, 100_000, 300_000, 500_000, 700_000, 900_000, 990_000)
STEPS = ("customers", "followups", "won", "complaints", "surveys", "need_history", "python")


def main(batch: int = 1000) -> None:
    now = timezone.now()
    rules = scores.Rules.current()
    year_ago = now - timedelta(days=365)
    first = Customer.objects.order_by("pk").values_list("pk", flat=True).first() or 0
    timings: dict[str, list[float]] = {step: [] for step in STEPS}

    def lap(step: str, started: float) -> float:
        timings[step].append(time.perf_counter() - started)
        return time.perf_counter()

    for offset in OFFSETS:
        ids = list(
            Customer.objects.filter(pk__gte=first + offset)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            continue
        t = time.perf_counter()
        facts = {
            row["id"]: scores.Facts(
                created_at=row["created_at"], last_contact_at=row["last_contact_at"]
            )
            for row in Customer.objects.filter(pk__in=ids).values(
                "id", "created_at", "last_contact_at"
            )
        }
        t = lap("customers", t)
        followups = list(
            FollowUp.objects.filter(customer_id__in=ids, occurred_at__gte=year_ago)
            .order_by("customer_id", "-occurred_at", "-id")
            .values_list("customer_id", "occurred_at", "sentiment")
        )
        t = lap("followups", t)
        won = list(
            Opportunity.objects.filter(customer_id__in=ids, stage__kind=StageKind.WON)
            .order_by()
            .values("customer_id")
            .annotate(
                total=Count("id"),
                year=Count("id", filter=Q(closed_at__gte=year_ago)),
                won_sum=Sum("amount", filter=Q(closed_at__gte=year_ago)),
                average_amount=Avg("amount"),
            )
        )
        t = lap("won", t)
        list(
            Ticket.objects.filter(
                customer_id__in=ids,
                ticket_type=TicketType.COMPLAINT,
                status__in=OPEN_TICKET_STATUSES,
            )
            .order_by()
            .values("customer_id")
            .annotate(n=Count("id"))
        )
        t = lap("complaints", t)
        list(
            Survey.objects.filter(
                customer_id__in=ids, answered_at__gte=year_ago, score__isnull=False
            )
            .order_by()
            .values("customer_id")
            .annotate(average=Avg("score"))
        )
        t = lap("surveys", t)
        scores._needs_changed(ids, now - timedelta(days=rules.need_change_days))
        t = lap("need_history", t)
        for customer_id, occurred_at, sentiment in followups:
            fact = facts[customer_id]
            fact.last_followup_at = fact.last_followup_at or occurred_at
            fact.sentiments.append(sentiment)
        for row in won:
            fact = facts[row["customer_id"]]
            fact.orders_total, fact.orders_year = row["total"], row["year"]
            fact.won_year = row["won_sum"] or Decimal(0)
            fact.average_order = Decimal(row["average_amount"] or 0).quantize(Decimal("0.01"))
        for fact in facts.values():
            scores.score(fact, rules, now)
        lap("python", t)
    total = 0.0
    for step, values in timings.items():
        median = statistics.median(values)
        total += median
        print(f"{step:13s} median {median * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms")
    batches = Customer.objects.count() / batch
    print(
        f"per batch of {batch}: {total * 1000:.0f} ms; {batches:.0f} batches ≈ "
        f"{total * batches / 60:.1f} min of reads and scoring"
    )


def reports(runs: int = 20) -> None:
    """p50 / p95 of the churn-risk and high-value reports for a rep, a manager and an admin
    (on a database the analytics migrations have run on, after ``recompute_all``)."""
    from django.contrib.auth import get_user_model

    from kehu.analytics import registry
    from kehu.analytics.reporting import parse_filters

    users = get_user_model().objects
    viewers = {
        "rep": users.filter(role="sales", owned_customers__isnull=False).first(),
        "manager": users.filter(role="manager", department__isnull=False).first(),
        "admin": users.filter(is_superuser=True).first() or users.filter(role="admin").first(),
    }
    if viewers["admin"] is None and viewers["manager"] is not None:
        # the bench has no administrator: the manager, as an admin in memory (nothing saved)
        admin = users.get(pk=viewers["manager"].pk)
        admin.role = "admin"
        viewers["admin"] = admin
    for key in ("churn-risk", "high-value"):
        for name, user in viewers.items():
            if user is None:
                continue
            spec = registry.report_spec(user, key)
            laps = []
            for _ in range(runs):
                started = time.perf_counter()
                spec.build(user, parse_filters(user=user, params={}))
                laps.append(time.perf_counter() - started)
            laps.sort()
            p95 = laps[min(len(laps) - 1, round(0.95 * len(laps)) - 1)]
            print(
                f"{key:11s} {name:8s} p50 {statistics.median(laps) * 1000:6.1f} ms"
                f"  p95 {p95 * 1000:6.1f} ms"
            )
