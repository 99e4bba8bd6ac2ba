"""Demo step: renewal intents on some of the demo follow-ups, then every customer scored, so
the churn-risk and high-value lists have something to show right after ``kehu demo``."""

from __future__ import annotations

import random

from kehu.core.demo import DemoRun, DemoStep
from kehu.followups.models import FollowUp, RenewalIntent


def _scores_step(run: DemoRun) -> str:
    from kehu.analytics.services.scores import recompute_all

    rng = random.Random(run.seed + 28)
    intents = [
        RenewalIntent.LIKELY,
        RenewalIntent.LIKELY,
        RenewalIntent.UNDECIDED,
        RenewalIntent.UNLIKELY,
    ]
    ids = list(
        FollowUp.objects.filter(renewal_intent="")
        .order_by("-occurred_at")
        .values_list("pk", flat=True)[:2000]
    )
    chosen = [pk for pk in ids if rng.random() < 0.2]
    by_intent: dict[str, list[int]] = {}
    for pk in chosen:
        by_intent.setdefault(rng.choice(intents), []).append(pk)
    for intent, pks in by_intent.items():
        FollowUp.objects.filter(pk__in=pks).update(renewal_intent=intent)
    scored = recompute_all()
    return f"{len(chosen)} renewal intents, {scored} customers scored"


SCORES = DemoStep(key="scores", order=90, run=_scores_step)
