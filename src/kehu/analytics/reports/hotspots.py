"""Demand hotspots (需求热点): the most frequent needs and concerns of the customers.

The texts: the initial needs of the customers created in the period, the contents of the
follow-ups that occurred in it and the subjects and contents of the tickets raised in it, all
read through the access gate and the report's filters. Each text is segmented by jieba (the
service keyword report's machinery, ``service.selectors.reports``) with a domain dictionary
(``data/domain_dict.txt``) and its stop words plus ours (``data/stopwords.txt``); each text
also falls into the categories whose terms it contains (``data/categories.txt``: 价格,
售后响应速度, 交付周期, …). The share of a category is the share of the customers whose texts
mention it ("70% 的客户关注售后响应速度").

jieba runs in Python, so the work is bounded: the newest ``SAMPLE_PER_SOURCE`` texts of each
source, each cut to ``TEXT_CHARS`` characters (the table notes say so), 3 queries whatever the
number of rows; the answer is cached ``CACHE_SECONDS`` per viewer and filters.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db.models.functions import Substr
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kehu.analytics.registry import ReportSpec, register
from kehu.analytics.reporting import Chart, Column, Report, ReportFilters, Table, share
from kehu.analytics.reports.caching import cached_report
from kehu.customers.models import Customer
from kehu.followups.models import FollowUp
from kehu.service.models import Ticket
from kehu.service.selectors.reports import make_tokenizer, text_words

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE_PER_SOURCE = 80
TEXT_CHARS = 100
CACHE_SECONDS = 300
TOP_KEYWORDS = 30

CATEGORY_LABELS: dict[str, Promise] = {
    "price": _("Price (价格)"),
    "service_response": _("After-sales response speed (售后响应速度)"),
    "delivery": _("Delivery time (交付周期)"),
    "features": _("Features (功能)"),
    "integration": _("Integration (集成)"),
    "training": _("Training (培训)"),
    "stability": _("Stability (稳定性)"),
    "security": _("Data security (数据安全)"),
}

SOURCE_LABELS: dict[str, Promise] = {
    "need": _("Initial needs"),
    "followup": _("Follow-ups"),
    "ticket": _("Tickets"),
}


@lru_cache(maxsize=1)
def tokenizer() -> Any:
    """jieba with the domain dictionary (loaded once per process)."""
    return make_tokenizer(DATA / "domain_dict.txt")


def _lines(name: str) -> list[str]:
    lines = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """Our stop words (sales-conversation words); the service's are applied as well."""
    return frozenset(word.lower() for word in _lines("stopwords.txt"))


@lru_cache(maxsize=1)
def categories() -> dict[str, tuple[str, ...]]:
    """Category key → its terms, lower-cased, in the file's order."""
    found: dict[str, tuple[str, ...]] = {}
    for line in _lines("categories.txt"):
        key, _sep, terms = line.partition(":")
        found[key.strip()] = tuple(term.lower() for term in terms.split())
    return found


def words_of(text: str) -> set[str]:
    """The keywords of one text (domain dictionary, stop words out)."""
    return text_words(text, tokenizer=tokenizer(), stops=stop_words())


def categories_of(text: str) -> set[str]:
    """The categories whose terms ``text`` contains."""
    lowered = text.lower()
    return {key for key, terms in categories().items() if any(t in lowered for t in terms)}


_SPACE = re.compile(r"\s+")


def _texts(user: Any, filters: ReportFilters) -> list[tuple[str, int, str]]:
    """(source, customer id, text) of the newest texts of each source: 3 queries."""
    cut = TEXT_CHARS
    needs = (
        Customer.objects.visible_to(user)
        .filter(filters.between("created_at"), filters.scope_q(), filters.customer_q(""))
        .exclude(initial_need="")
        .order_by("-created_at", "-id")
        .values_list("pk", Substr("initial_need", 1, cut))[:SAMPLE_PER_SOURCE]
    )
    followups = (
        FollowUp.objects.visible_to(user)
        .filter(filters.between("occurred_at"))
        .filter(filters.scope_q("author", "customer__department"), filters.customer_q())
        .order_by("-occurred_at", "-id")
        .values_list("customer_id", Substr("content", 1, cut))[:SAMPLE_PER_SOURCE]
    )
    tickets = (
        Ticket.objects.visible_to(user)
        .filter(filters.between("raised_at"), merged_into__isnull=True)
        .filter(filters.scope_q("customer__owner", "customer__department"))
        .filter(filters.customer_q())
        .order_by("-raised_at", "-id")
        .values_list("customer_id", "subject", Substr("content", 1, cut))[:SAMPLE_PER_SOURCE]
    )
    texts = [("need", pk, text) for pk, text in needs]
    texts += [("followup", pk, text) for pk, text in followups]
    texts += [("ticket", pk, f"{subject} {text}") for pk, subject, text in tickets]
    return [(source, pk, _SPACE.sub(" ", text).strip()) for source, pk, text in texts if text]


def demand_hotspots(user: Any, filters: ReportFilters) -> Report:
    return cached_report("hotspots", CACHE_SECONDS, user, filters, lambda: _build(user, filters))


def _build(user: Any, filters: ReportFilters) -> Report:
    texts = _texts(user, filters)
    word_texts: Counter[str] = Counter()
    word_customers: dict[str, set[int]] = {}
    category_texts: Counter[str] = Counter()
    category_customers: dict[str, set[int]] = {key: set() for key in categories()}
    by_source: dict[str, Counter[str]] = {source: Counter() for source in SOURCE_LABELS}
    customers: set[int] = set()
    for source, customer_id, text in texts:
        customers.add(customer_id)
        for word in words_of(text):
            word_texts[word] += 1
            word_customers.setdefault(word, set()).add(customer_id)
        for category in categories_of(text):
            category_texts[category] += 1
            category_customers[category].add(customer_id)
            by_source[source][category] += 1
    sampled = {source: sum(1 for s, _c, _t in texts if s == source) for source in SOURCE_LABELS}
    note = _(
        "The newest %(limit)s texts of each source in the period (each cut to %(chars)s "
        "characters): %(needs)s initial needs, %(followups)s follow-ups, %(tickets)s tickets."
    ) % {
        "limit": SAMPLE_PER_SOURCE,
        "chars": TEXT_CHARS,
        "needs": sampled["need"],
        "followups": sampled["followup"],
        "tickets": sampled["ticket"],
    }
    category_rows: list[dict[str, Any]] = [
        {
            "category": str(CATEGORY_LABELS.get(category, category)),
            "texts": category_texts[category],
            "customers": len(category_customers[category]),
            "customers_pct": share(len(category_customers[category]), len(customers)),
            **{f"{source}_texts": by_source[source][category] for source in SOURCE_LABELS},
        }
        for category in categories()
        if category_texts[category]
    ]
    category_rows.sort(key=lambda row: (-row["customers"], -row["texts"], row["category"]))
    ranked = sorted(word_texts.items(), key=lambda item: (-item[1], item[0]))[:TOP_KEYWORDS]
    keyword_rows: list[dict[str, Any]] = [
        {
            "keyword": word,
            "texts": count,
            "customers": len(word_customers[word]),
            "customers_pct": share(len(word_customers[word]), len(customers)),
        }
        for word, count in ranked
    ]
    top = category_rows[0] if category_rows else None
    category_columns = [
        Column("category", _("Category")),
        Column("texts", _("Texts"), "int"),
        Column("customers", _("Customers"), "int"),
        Column("customers_pct", _("Share of customers"), "pct"),
        *(Column(f"{s}_texts", label, "int") for s, label in SOURCE_LABELS.items()),
    ]
    keyword_columns = [
        Column("keyword", _("Keyword")),
        Column("texts", _("Texts"), "int"),
        Column("customers", _("Customers"), "int"),
        Column("customers_pct", _("Share of customers"), "pct"),
    ]
    charts = [
        Chart(
            "categories",
            _("Share of customers per concern"),
            [str(row["category"]) for row in category_rows],
            [
                {
                    "name": str(_("Share of customers")),
                    "type": "bar",
                    "data": [row["customers_pct"] for row in category_rows],
                }
            ]
            if category_rows
            else [],
            unit="%",
        ),
        Chart(
            "keywords",
            _("Most frequent keywords"),
            [str(row["keyword"]) for row in keyword_rows[:15]],
            [
                {
                    "name": str(_("Texts")),
                    "type": "bar",
                    "data": [row["texts"] for row in keyword_rows[:15]],
                }
            ]
            if keyword_rows
            else [],
        ),
    ]
    return Report(
        key="demand-hotspots",
        title=_("Demand hotspots"),
        filters=filters,
        summary=[
            ("texts", _("Texts analysed"), len(texts), "int"),
            ("top_category", _("Top concern"), top["category"] if top else "", "text"),
            ("top_category_pct", _("Customers with the top concern"), _pct(top), "pct"),
        ],
        tables=[
            Table("categories", _("Concerns"), category_columns, category_rows, note),
            Table("keywords", _("Keywords"), keyword_columns, keyword_rows, note),
        ],
        charts=charts,
    )


def _pct(row: dict[str, Any] | None) -> float | None:
    return row["customers_pct"] if row else None


register(
    ReportSpec(
        key="demand-hotspots",
        title=_("Demand hotspots"),
        description=_(
            "The most frequent needs and concerns (keywords and categories such as price or "
            "after-sales response) in initial needs, follow-ups and tickets."
        ),
        build=demand_hotspots,
        roles=frozenset({"admin", "manager", "sales", "service"}),
        order=80,
    )
)
