"""Time the targets' progress (``analytics.selectors.targets``) against a loaded database.

The bench database is read-only, so the targets are built in memory (unsaved) for the
department of ``bench.manager`` (华东区): the handbook's "本季度新增30家制造业中小企业，其中华东区
20家", won amount, won deals, leads converted, and three targets for each of up to eight of its
reps; a rep (``bench.sales``) gets their department's and their own. Counted uncached (what
the API's progress and the first panel view cost) and cached (the dashboard panels and the
report page within five minutes)::

    KEHU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/kehu_bench_l \\
    PYTHONPATH=$PWD/src:$PWD kehu manage shell -c \\
      "from bench.targets_progress import main; main()"
"""

from __future__ import annotations

import statistics
import time
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.analytics.models import Target
from kehu.analytics.selectors.targets import progress_rows

ROUNDS = 20


def _targets(department: Any, reps: list[Any], start: date, end: date) -> list[Target]:
    made: list[Target] = []

    def add(**values: Any) -> Target:
        values.setdefault("value", 30)
        target = Target(pk=10_000_000 + len(made), start=start, end=end, **values)
        made.append(target)
        return target

    sme = ["lt50", "50-300"]
    whole = add(department=department, measure="new_customers", industry_id="C", size_bands=sme)
    add(
        department=department,
        measure="new_customers",
        industry_id="C",
        size_bands=sme,
        region="east",
        parent=whole,
        value=20,
    )
    add(department=department, measure="won_amount", value=3_000_000)
    add(department=department, measure="won_deals")
    add(department=department, measure="leads_converted")
    for rep in reps:
        add(owner=rep, department_id=rep.department_id, measure="new_customers")
        add(owner=rep, department_id=rep.department_id, measure="won_amount", value=800_000)
        add(owner=rep, department_id=rep.department_id, measure="won_deals", newness="existing")
    return made


def _time(label: str, user: Any, targets: list[Target], *, cached: bool) -> None:
    progress_rows(user=user, targets=targets, cached=cached)  # warm the cache (or the pages)
    timings = []
    for _round in range(ROUNDS):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            progress_rows(user=user, targets=targets, cached=cached)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[round(0.95 * (ROUNDS - 1))]
    kind = "cached" if cached else "counted"
    print(
        f"{label:8} {kind:8} targets={len(targets):3} queries={len(queries.captured_queries):2} "
        f"median={statistics.median(timings):7.1f} ms  p95={p95:7.1f} ms"
    )


def main(start: date = date(2026, 10, 1), end: date = date(2026, 12, 31)) -> None:
    users = get_user_model().objects.select_related("department")
    manager = users.get(username="bench.manager")
    rep = users.get(username="bench.sales")
    # The bench has no administrator: an unsaved one sees everything.
    admin = get_user_model()(username="bench.admin", role="admin", is_active=True)
    department = manager.department
    if department is None:
        raise SystemExit("bench.manager has no department: is the bench database loaded?")
    reps = list(users.filter(department__path__startswith=department.path, role="sales")[:8])
    team = _targets(department, reps, start, end)
    own = _targets(rep.department, [rep], start, end)
    for cached in (False, True):
        _time("manager", manager, team, cached=cached)
        _time("admin", admin, team, cached=cached)
        _time("rep", rep, own, cached=cached)


def load(start: date = date(2026, 10, 1), end: date = date(2026, 12, 31)) -> int:
    """Save the same targets (the manager's department and its reps, the rep's department)
    for the quarter, so the HTTP bench's targets report and dashboards count real rows.
    Idempotent: targets of the quarter already there are kept and nothing is added."""
    if Target.objects.filter(start=start, end=end).exists():
        return 0
    users = get_user_model().objects.select_related("department")
    manager = users.get(username="bench.manager")
    rep = users.get(username="bench.sales")
    department = manager.department
    reps = list(users.filter(department__path__startswith=department.path, role="sales")[:8])
    made = _targets(department, reps, start, end)
    if rep.department_id != department.pk:
        made += _targets(rep.department, [rep], start, end)
    saved: dict[int, Target] = {}
    for target in made:
        fake = target.pk
        if target.parent is not None:
            target.parent = saved[target.parent_id]
        target.pk = None
        target.save()
        saved[fake] = target
    return len(saved)
