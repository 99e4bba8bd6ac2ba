"""Feedback analysis (SEED_NOTES §6): frequent problems, keywords, SLA attainment, handling
times per team and agent, and the satisfaction trend.

Every report takes a period of days (``from``/``to``, both included, default the last 90 days)
and reads only the tickets the user sees (``Ticket.objects.visible_to``), merged duplicates
left out. Tickets count in the period they were raised (``raised_at``, indexed); surveys in the
period they were answered. Each report is a fixed number of queries that aggregate in the
database, whatever the number of tickets:

- problems: 1 (per type and product, summed both ways);
- keywords: 1 (the newest ``KEYWORD_SAMPLE`` tickets of the period, subject and the first
  ``KEYWORD_CONTENT_CHARS`` characters of the content, segmented by jieba in Python: the one
  report whose work grows with rows, so it is bounded; cached a few minutes);
- sla: 1; times: 4 (per team, per agent, and their names; the median is
  ``PERCENTILE_CONT`` on PostgreSQL);
- satisfaction: 1.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from django.core.cache import cache
from django.db.models import Aggregate, Avg, Count, F, FloatField, Q, QuerySet
from django.db.models.functions import Substr, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, User
from kehu.core.access import policy_of
from kehu.core.days import on_days
from kehu.core.errors import InvalidInput
from kehu.service.models import Survey, Ticket, TicketPriority, TicketType

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
# jieba runs in Python (~120,000 characters a second on the bench machine) over at most this
# many tickets, the newest of the period, each cut to the subject and the first
# KEYWORD_CONTENT_CHARS characters of the content: ~0.15 s at most. The answer is cached for
# KEYWORD_CACHE_SECONDS per user and period. The first use in a process loads jieba's
# dictionary (~1–2 s, once).
KEYWORD_SAMPLE = 200
KEYWORD_CONTENT_CHARS = 120
KEYWORD_CACHE_SECONDS = 300
KEYWORD_TOP = 30
PRODUCT_TOP = 20
STOPWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "stopwords.txt"

# --- The period ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    def months(self) -> list[date]:
        """The first day of each month the period touches, in order."""
        months = []
        month = self.start.replace(day=1)
        while month <= self.end:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months


def report_period(start: date | None = None, end: date | None = None) -> Period:
    """The period of a report: ``end`` defaults to today, ``start`` to 90 days back."""
    end = end or timezone.localdate()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise InvalidInput(errors={"to": [_("The end is before the start.")]})
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(errors={"to": [_("Choose a period of at most three years.")]})
    return period_of(start, end)


def period_of(start: date, end: date) -> Period:
    return Period(start, end)


def parse_day(raw: str | None, field: str) -> date | None:
    """A day of a query string (``YYYY-MM-DD``), None when empty; a clear 422 otherwise."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as error:
        message = _("Enter a date as YYYY-MM-DD.")
        raise InvalidInput(errors={field: [message]}) from error


def report_tickets(user: Any, period: Period) -> QuerySet[Ticket]:
    return (
        Ticket.objects.visible_to(user)
        .filter(on_days("raised_at", period.start, period.end))
        .filter(merged_into__isnull=True)
    )


def _share(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


# --- Frequent problems -----------------------------------------------------------------------


def problems_report(*, user: Any, period: Period) -> dict[str, Any]:
    """Tickets by type and by product (the top ``PRODUCT_TOP``), with counts and shares (%).

    One scan: the counts per (type, product), summed both ways here (a few hundred rows).
    """
    by_type: Counter[str] = Counter()
    by_product: Counter[str] = Counter()
    rows = (
        report_tickets(user, period)
        .values("ticket_type", "product")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        by_type[row["ticket_type"]] += row["n"]
        by_product[row["product"]] += row["n"]
    total = sum(by_type.values())
    products = sorted(by_product.items(), key=lambda item: (-item[1], item[0]))[:PRODUCT_TOP]
    return {
        "period": period.as_dict(),
        "total": total,
        "by_type": [
            {
                "key": key,
                "label": str(label),
                "count": by_type.get(key, 0),
                "share": _share(by_type.get(key, 0), total),
            }
            for key, label in TicketType.choices
        ],
        "by_product": [
            {
                "product": product,
                "label": product or _("(no product)"),
                "count": count,
                "share": _share(count, total),
            }
            for product, count in products
        ],
    }


# --- Keywords (jieba) ------------------------------------------------------------------------

_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)
_NUMBERISH = re.compile(r"^[\d._\-:/]+$")


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """Chinese function words, common service words and English stop words (data file)."""
    words = set()
    for line in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip().lower()
        if word:
            words.add(word)
    return frozenset(words)


def make_tokenizer(userdict: Path | None = None) -> Any:
    """A jieba tokenizer with its dictionary loaded, plus ``userdict`` (a jieba user
    dictionary: ``word [frequency] [tag]`` a line) when given. Callers cache it."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    if userdict is not None:
        tokenizer.load_userdict(str(userdict))
    return tokenizer


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    return make_tokenizer()


def text_words(
    text: str, *, tokenizer: Any = None, stops: frozenset[str] = frozenset()
) -> set[str]:
    """The distinct words of ``text`` as jieba segments it, lower-cased; stop words (the data
    file's and ``stops``), single characters and numbers left out."""
    tokenizer = tokenizer or _tokenizer()
    all_stops = stop_words()
    seen = set()
    for token in tokenizer.cut(text, HMM=False):
        word = token.strip().lower()
        if len(word) < 2 or word in all_stops or word in stops:
            continue
        if _NUMBERISH.match(word) or not _WORD.search(word):
            continue
        seen.add(word)
    return seen


def keywords(
    texts: list[str], *, top: int = KEYWORD_TOP, tokenizer: Any = None
) -> list[tuple[str, int]]:
    """The ``top`` words of ``texts`` by the number of texts that use them, stop words, single
    characters and numbers left out (ties by the word)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(text_words(text, tokenizer=tokenizer))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:top]


def keywords_report(*, user: Any, period: Period, top: int = KEYWORD_TOP) -> dict[str, Any]:
    """Top words of the subjects and contents of the period's newest ``KEYWORD_SAMPLE``
    tickets, as segmented by jieba: each word counts once per ticket. Cached for
    ``KEYWORD_CACHE_SECONDS`` per user, period and ``top``."""
    key = f"service:keywords:{user.pk}:{period.start}:{period.end}:{top}"
    cached = cache.get(key)
    if cached is not None:
        return cast("dict[str, Any]", cached)
    rows = list(
        report_tickets(user, period)
        .order_by("-raised_at")
        .values_list("subject", Substr("content", 1, KEYWORD_CONTENT_CHARS))[:KEYWORD_SAMPLE]
    )
    words = keywords([f"{subject}\n{content}" for subject, content in rows], top=top)
    result = {
        "period": period.as_dict(),
        "sampled": len(rows),
        "sample_limit": KEYWORD_SAMPLE,
        "keywords": [
            {"word": word, "tickets": count, "share": _share(count, len(rows))}
            for word, count in words
        ],
    }
    cache.set(key, result, KEYWORD_CACHE_SECONDS)
    return result


# --- SLA attainment --------------------------------------------------------------------------


def sla_report(*, user: Any, period: Period) -> dict[str, Any]:
    """Response and resolution SLA met (%) by priority.

    A response counts once it is made or overdue (no response past the due time, the clock
    not paused); it is met when made by the due time. Likewise the resolution.
    """
    now = timezone.now()
    responded = Q(first_response_at__isnull=False)
    response_settled = responded | Q(response_due_at__lt=now, paused_at__isnull=True)
    response_met = responded & (
        Q(response_due_at__isnull=True) | Q(first_response_at__lte=F("response_due_at"))
    )
    resolved = Q(resolved_at__isnull=False)
    resolution_settled = resolved | Q(resolution_due_at__lt=now, paused_at__isnull=True)
    resolution_met = resolved & (
        Q(resolution_due_at__isnull=True) | Q(resolved_at__lte=F("resolution_due_at"))
    )
    rows: dict[str, Any] = {
        row["priority"]: row
        for row in report_tickets(user, period)
        .values("priority")
        .annotate(
            total=Count("id"),
            response_due=Count("id", filter=response_settled),
            response_met=Count("id", filter=response_met),
            resolution_due=Count("id", filter=resolution_settled),
            resolution_met=Count("id", filter=resolution_met),
        )
        .order_by()
    }
    keys = ("total", "response_due", "response_met", "resolution_due", "resolution_met")
    lines = []
    for key, label in TicketPriority.choices:
        found = rows.get(key, {})
        lines.append(_sla_line(key, str(label), {name: int(found.get(name, 0)) for name in keys}))
    overall = {name: sum(int(row.get(name, 0)) for row in rows.values()) for name in keys}
    return {
        "period": period.as_dict(),
        "by_priority": lines,
        "overall": _sla_line("", _("All priorities"), overall),
    }


def _sla_line(key: str, label: str, figures: dict[str, int]) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "tickets": figures["total"],
        "response_counted": figures["response_due"],
        "response_met": figures["response_met"],
        "response_met_pct": _rate(figures["response_met"], figures["response_due"]),
        "resolution_counted": figures["resolution_due"],
        "resolution_met": figures["resolution_met"],
        "resolution_met_pct": _rate(figures["resolution_met"], figures["resolution_due"]),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# --- Handling times per team and agent ------------------------------------------------------


class Median(Aggregate):
    """The median of a column: ``PERCENTILE_CONT(0.5)`` on PostgreSQL, a small aggregate
    function registered on the connection on SQLite. NULLs are ignored."""

    function = "kehu_median"
    name = "Median"
    output_field = FloatField()
    allow_distinct = False

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            function="PERCENTILE_CONT",
            template="%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        _install_sqlite_median(connection)
        return self.as_sql(compiler, connection, **extra)


class _SqliteMedian:
    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return float(statistics.median(self.values)) if self.values else None


def _install_sqlite_median(connection: Any) -> None:
    connection.ensure_connection()
    raw = connection.connection
    if getattr(connection, "_kehu_median_on", None) is not raw:
        raw.create_aggregate("kehu_median", 1, _SqliteMedian)
        connection._kehu_median_on = raw


def _time_figures() -> dict[str, Any]:
    return {
        "tickets": Count("id"),
        "responded": Count("response_minutes"),
        "response_avg": Avg("response_minutes"),
        "response_median": Median("response_minutes"),
        "resolved": Count("resolution_minutes"),
        "resolution_avg": Avg("resolution_minutes"),
        "resolution_median": Median("resolution_minutes"),
    }


def _time_line(key: int | None, label: str, row: Any) -> dict[str, Any]:
    def minutes(value: Any) -> float | None:
        return round(float(value), 1) if value is not None else None

    return {
        "id": key,
        "label": label,
        "tickets": row["tickets"],
        "responded": row["responded"],
        "response_median": minutes(row["response_median"]),
        "response_avg": minutes(row["response_avg"]),
        "resolved": row["resolved"],
        "resolution_median": minutes(row["resolution_median"]),
        "resolution_avg": minutes(row["resolution_avg"]),
    }


def times_report(*, user: Any, period: Period) -> dict[str, Any]:
    """First-response and resolution times (business minutes, median and average) per team
    (the responsible department) and per agent (the person responsible).

    The figures are grouped by the bare ids (no join, so the sort for the medians stays
    narrow), one query per grouping, then the names of the teams and of the agents found:
    4 queries. (Reads stay on the ORM: one scan with ``GROUPING SETS`` would save a query
    only by SQL written beside it.)
    """
    tickets = report_tickets(user, period)
    teams = list(tickets.values("department_id").annotate(**_time_figures()).order_by())
    agents = list(tickets.values("assignee_id").annotate(**_time_figures()).order_by())
    team_names = dict(
        Department.objects.filter(
            pk__in=[r["department_id"] for r in teams if r["department_id"]]
        ).values_list("pk", "name")
    )
    agent_names = {
        pk: display or username
        for pk, display, username in User.objects.filter(
            pk__in=[r["assignee_id"] for r in agents if r["assignee_id"]]
        ).values_list("pk", "display_name", "username")
    }
    by_team = [
        _time_line(row["department_id"], team_names.get(row["department_id"], ""), row)
        for row in teams
    ]
    by_agent = [
        _time_line(row["assignee_id"], agent_names.get(row["assignee_id"], ""), row)
        for row in agents
    ]
    for line in by_team:
        line["label"] = line["label"] or _("(no team)")
    for line in by_agent:
        line["label"] = line["label"] or _("(nobody)")
    return {
        "period": period.as_dict(),
        "unit": "business_minutes",
        "by_team": sorted(by_team, key=_by_label),
        "by_agent": sorted(by_agent, key=_by_label),
    }


def _by_label(line: dict[str, Any]) -> tuple[bool, str, int]:
    """Named rows first, by name; the row without a team or agent last."""
    return (line["id"] is None, str(line["label"]), line["id"] or 0)


# --- Satisfaction trend ----------------------------------------------------------------------


def prefixed(condition: Q, prefix: str) -> Q:
    """``condition`` (on a model) as a condition on the rows related to it through
    ``prefix`` (``ticket__``), so a scope joins instead of ``IN (SELECT …)``."""
    result = Q()
    result.connector = condition.connector
    result.negated = condition.negated
    children: list[Any] = list(condition.children)
    for child in children:
        if isinstance(child, Q):
            result.children.append(prefixed(child, prefix))
        else:
            key, value = child
            result.children.append((prefix + key, value))
    return result


def scoped_surveys(user: Any) -> QuerySet[Survey]:
    """The surveys of the tickets ``user`` sees, the ticket's scope joined."""
    return Survey.objects.filter(prefixed(policy_of(Ticket).view_filter(user), "ticket__"))


def satisfaction_report(*, user: Any, period: Period) -> dict[str, Any]:
    """Per month of the period: the average score, the answers and their distribution 1–5."""
    rows = (
        scoped_surveys(user)
        .filter(on_days("answered_at", period.start, period.end), score__isnull=False)
        .annotate(month=TruncMonth("answered_at"))
        .values("month", "score")
        .annotate(n=Count("id"))
        .order_by()
    )
    per_month: dict[str, Counter[int]] = {m.strftime("%Y-%m"): Counter() for m in period.months()}
    for row in rows:
        month = row["month"]
        if timezone.is_aware(month):
            month = timezone.localtime(month)
        per_month.setdefault(month.strftime("%Y-%m"), Counter())[int(row["score"] or 0)] += row["n"]
    total: Counter[int] = Counter()
    months = []
    for key in sorted(per_month):
        scores = per_month[key]
        total.update(scores)
        months.append({"month": key, **_score_figures(scores)})
    return {"period": period.as_dict(), "months": months, "overall": _score_figures(total)}


def _score_figures(scores: Counter[int]) -> dict[str, Any]:
    count = sum(scores.values())
    average = sum(score * n for score, n in scores.items()) / count if count else None
    return {
        "count": count,
        "average": round(average, 2) if average is not None else None,
        "distribution": {str(score): scores.get(score, 0) for score in range(1, 6)},
    }
