"""Assignment and priority rules evaluated in memory.

A ``RuleBook`` is loaded with a fixed number of queries (rules, their reps, the candidate reps
of department rules, the industry tree) and then matches any number of leads without touching
the database; round-robin cursors advance in memory and are saved once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch

from kehu.accounts.models import Role, User
from kehu.core import config
from kehu.customers.models import Industry
from kehu.leads import conf
from kehu.leads.models import AssignmentRule, Lead, PriorityRule


@dataclass(frozen=True)
class Candidate:
    user_id: int
    department_id: int | None
    name: str


@dataclass
class CompiledRule:
    id: int
    name: str
    regions: frozenset[str]
    industries: frozenset[str]
    sources: frozenset[str]
    priorities: frozenset[str]
    candidates: list[Candidate]
    cursor: int
    start_cursor: int = 0

    def matches(
        self,
        *,
        region: str | None,
        industry: str | None,
        section: str | None,
        source: str,
        priority: str,
    ) -> bool:
        if self.regions and (
            not region or (region not in self.regions and province_of(region) not in self.regions)
        ):
            return False
        if self.industries and (
            not industry or (industry not in self.industries and section not in self.industries)
        ):
            return False
        if self.sources and source not in self.sources:
            return False
        return not (self.priorities and priority not in self.priorities)

    def next_candidate(self, exclude: frozenset[int] = frozenset()) -> Candidate | None:
        pool = (
            [c for c in self.candidates if c.user_id not in exclude] if exclude else self.candidates
        )
        if not pool:
            return None
        chosen = pool[self.cursor % len(pool)]
        self.cursor += 1
        return chosen


def province_of(region_code: str) -> str:
    return f"{region_code[:2]}0000"


@dataclass
class RuleBook:
    rules: list[CompiledRule]
    sections: dict[str, str | None] = field(default_factory=dict)

    def pick(
        self, lead: Lead, *, exclude: frozenset[int] = frozenset()
    ) -> tuple[CompiledRule, Candidate] | None:
        """The first matching rule with an eligible rep, and the rep its round-robin gives."""
        return self.pick_values(
            region=lead.region_id,
            industry=lead.industry_id,
            source=lead.source,
            priority=lead.priority,
            exclude=exclude,
        )

    def pick_values(
        self,
        *,
        region: str | None,
        industry: str | None,
        source: str,
        priority: str,
        exclude: frozenset[int] = frozenset(),
    ) -> tuple[CompiledRule, Candidate] | None:
        section = self.sections.get(industry) if industry else None
        for rule in self.rules:
            if not rule.matches(
                region=region,
                industry=industry,
                section=section,
                source=source,
                priority=priority,
            ):
                continue
            candidate = rule.next_candidate(exclude)
            if candidate is not None:
                return rule, candidate
        return None

    def save_cursors(self) -> None:
        for rule in self.rules:
            if rule.cursor != rule.start_cursor:
                AssignmentRule.objects.filter(pk=rule.id).update(cursor=rule.cursor)
                rule.start_cursor = rule.cursor


def load_rulebook(*, lock: bool = False) -> RuleBook:
    active_users = User.objects.filter(is_active=True).only(
        "id", "department_id", "username", "display_name", "first_name", "last_name"
    )
    queryset = (
        AssignmentRule.objects.filter(is_active=True)
        .select_related("department")
        .prefetch_related(Prefetch("reps", queryset=active_users.order_by("id")))
        .order_by("position", "id")
    )
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    rules = list(queryset)
    team: list[tuple[int, int | None, str, str]] = []
    if any(rule.department_id and not rule.reps.all() for rule in rules):
        team = [
            (
                user.pk,
                user.department_id,
                user.department.path if user.department else "",
                str(user),
            )
            for user in User.objects.filter(
                is_active=True, role=Role.SALES, department__isnull=False
            )
            .select_related("department")
            .order_by("id")
        ]
    compiled: list[CompiledRule] = []
    for rule in rules:
        reps = list(rule.reps.all())
        if reps:
            candidates = [Candidate(u.pk, u.department_id, str(u)) for u in reps]
        elif rule.department is not None:
            prefix = rule.department.path
            candidates = [
                Candidate(uid, dept, name)
                for uid, dept, path, name in team
                if path.startswith(prefix)
            ]
        else:
            candidates = []
        compiled.append(
            CompiledRule(
                id=rule.pk,
                name=rule.name,
                regions=frozenset(rule.region_codes or ()),
                industries=frozenset(rule.industry_codes or ()),
                sources=frozenset(rule.sources or ()),
                priorities=frozenset(rule.priorities or ()),
                candidates=candidates,
                cursor=rule.cursor,
                start_cursor=rule.cursor,
            )
        )
    sections: dict[str, str | None] = {}
    if any(rule.industries for rule in compiled):
        sections = dict(Industry.objects.values_list("code", "parent_id"))
    return RuleBook(rules=compiled, sections=sections)


# --- Priority and deadlines -------------------------------------------------------------------
def priority_rules() -> list[PriorityRule]:
    return list(PriorityRule.objects.order_by("position", "id"))


def priority_for(
    *, source: str, urgency: str, value: Decimal | None, rules: list[PriorityRule] | None = None
) -> str:
    for rule in priority_rules() if rules is None else rules:
        if rule.source and rule.source != source:
            continue
        if rule.urgency and rule.urgency != urgency:
            continue
        if rule.min_value is not None and (value is None or value < rule.min_value):
            continue
        return rule.priority
    return str(config.get(conf.DEFAULT_PRIORITY.key))


def first_contact_due(priority: str, start: datetime) -> datetime:
    hours: dict[str, Any] = config.get(conf.DEADLINE_HOURS.key)
    default_hours: dict[str, Any] = conf.DEADLINE_HOURS.default
    return start + timedelta(hours=float(hours.get(priority, default_hours.get(priority, 168))))
