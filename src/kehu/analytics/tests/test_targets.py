"""Targets: every check of the services, and progress counted from the records in scope."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kehu.analytics.models import Target
from kehu.analytics.reporting import region_prefixes
from kehu.analytics.selectors.targets import one_progress, target_progress
from kehu.analytics.services import targets as services
from kehu.analytics.tests.targets_support import (
    QUARTER,
    converted_lead,
    customer,
    target,
    won_deal,
)
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.testing.factories import Organisation

pytestmark = pytest.mark.django_db


def errors_of(excinfo: pytest.ExceptionInfo[Any]) -> dict[str, list[str]]:
    return dict(excinfo.value.errors)


# --- services: the period ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "start", "expected"),
    [
        ("month", date(2026, 2, 14), (date(2026, 2, 1), date(2026, 2, 28))),
        ("quarter", date(2026, 11, 3), (date(2026, 10, 1), date(2026, 12, 31))),
        ("year", date(2026, 6, 30), (date(2026, 1, 1), date(2026, 12, 31))),
    ],
)
def test_period_kind_fills_start_and_end(
    org: Organisation, kind: str, start: date, expected: tuple[date, date]
) -> None:
    made = target(org.east_manager, department=org.east.pk, period_kind=kind, start=start)
    assert (made.start, made.end) == expected
    assert made.period_kind == kind


def test_custom_period_keeps_its_days(org: Organisation) -> None:
    made = target(org.admin, period_kind="custom", start=date(2026, 3, 10), end=date(2026, 9, 9))
    assert (made.start, made.end) == (date(2026, 3, 10), date(2026, 9, 9))


def test_end_before_start_is_422(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        target(
            org.east_manager,
            department=org.east.pk,
            period_kind="custom",
            start=date(2026, 10, 1),
            end=date(2026, 9, 30),
        )
    assert errors_of(excinfo)["end"]
    with pytest.raises(InvalidInput) as excinfo:  # an explicit end before a quarter's start
        target(org.east_manager, department=org.east.pk, end=date(2026, 9, 1))
    assert "end" in errors_of(excinfo)


def test_period_of_more_than_five_years_is_422(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        target(org.admin, period_kind="custom", start=date(2020, 1, 1), end=date(2025, 12, 31))
    assert errors_of(excinfo)["end"]
    made = target(org.admin, period_kind="custom", start=date(2021, 1, 1), end=date(2025, 12, 31))
    assert made.pk


def test_custom_period_needs_an_end(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        target(org.admin, period_kind="custom", start=date(2026, 1, 1))
    assert "end" in errors_of(excinfo)


@pytest.mark.parametrize("value", [0, -5, "abc", None, "NaN", "1e20"])
def test_value_must_be_a_positive_number(org: Organisation, value: Any) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        target(org.east_manager, department=org.east.pk, value=value)
    assert "value" in errors_of(excinfo)


def test_counted_measures_take_whole_numbers(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        target(org.east_manager, department=org.east.pk, value="2.5")
    assert errors_of(excinfo)["value"]
    amount = target(
        org.east_manager, department=org.east.pk, measure="won_amount", value="250000.50"
    )
    assert amount.value == Decimal("250000.50")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("industry", "ZZ"),
        ("region", "999999"),
        ("region", "mars"),
        ("customer_kind", "robot"),
        ("size_bands", ["huge"]),
        ("newness", "old"),
        ("measure", "happiness"),
        ("period_kind", "week"),
        ("colour", "red"),
    ],
)
def test_bad_segment_and_fields_are_422(org: Organisation, field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        target(org.east_manager, department=org.east.pk, **{field: value})
    assert field in errors_of(excinfo)


def test_newness_makes_no_sense_for_new_customers(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        target(org.east_manager, department=org.east.pk, newness="existing")
    assert "newness" in errors_of(excinfo)


# --- services: overlap ------------------------------------------------------------------------


def test_overlapping_target_of_same_scope_measure_segment_is_422_naming_it(
    org: Organisation,
) -> None:
    first = target(org.east_manager, department=org.east.pk, name="Q4 新客户", industry="C")
    with pytest.raises(InvalidInput) as excinfo:
        target(
            org.east_manager,
            department=org.east.pk,
            period_kind="month",
            start=date(2026, 11, 1),
            industry="C",
        )
    assert "Q4 新客户" in excinfo.value.detail
    assert excinfo.value.extra["overlaps"] == first.pk
    # another segment, measure, rep or a later period does not overlap
    target(org.east_manager, department=org.east.pk, industry="C", region="east")
    target(org.east_manager, department=org.east.pk, industry="C", measure="won_deals")
    target(org.east_manager, owner=org.rep.pk, industry="C")
    target(org.east_manager, department=org.east.pk, industry="C", start=date(2027, 1, 1))
    assert Target.objects.count() == 5


def test_update_does_not_clash_with_itself(org: Organisation) -> None:
    made = target(org.east_manager, department=org.east.pk)
    changed = services.target_update(
        actor=org.east_manager, target_id=made.pk, data={"value": 12}, version=made.version
    )
    assert changed.value == 12
    assert changed.version == made.version + 1


def test_stale_version_is_409(org: Organisation) -> None:
    made = target(org.east_manager, department=org.east.pk)
    services.target_update(
        actor=org.east_manager, target_id=made.pk, data={"value": 12}, version=made.version
    )
    with pytest.raises(Conflict):
        services.target_update(
            actor=org.east_manager, target_id=made.pk, data={"value": 15}, version=made.version
        )


# --- services: who may set --------------------------------------------------------------------


def test_rep_target_lives_in_the_reps_department(org: Organisation) -> None:
    made = target(org.east_manager, owner=org.rep.pk, department=org.south.pk)
    assert made.department_id == org.shanghai.pk
    assert made.owner_id == org.rep.pk


def test_manager_cannot_set_for_another_department_or_its_reps(org: Organisation) -> None:
    with pytest.raises(NotFound):
        target(org.east_manager, department=org.south.pk)
    with pytest.raises(NotFound):
        target(org.east_manager, owner=org.south_rep.pk)
    with pytest.raises(NotFound):
        target(org.east_manager, department=999_999)


def test_manager_needs_a_department_or_rep(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        target(org.east_manager)
    assert "department" in errors_of(excinfo)
    company_wide = target(org.admin)
    assert company_wide.department_id is None
    assert company_wide.owner_id is None


@pytest.mark.parametrize(
    ("who", "refusal"), [("rep", Forbidden), ("service", NotFound), ("marketing", NotFound)]
)
def test_only_managers_and_admins_set_targets(
    org: Organisation, who: str, refusal: type[Exception]
) -> None:
    """A rep sees their own target but may not change it (403); roles that do not even see
    it get 404, so its existence does not leak."""
    with pytest.raises(Forbidden):
        target(getattr(org, who), owner=org.rep.pk)
    made = target(org.east_manager, owner=org.rep.pk)
    with pytest.raises(refusal):
        services.target_update(
            actor=getattr(org, who), target_id=made.pk, data={"value": 1}, version=made.version
        )
    with pytest.raises(refusal):
        services.target_delete(actor=getattr(org, who), target_id=made.pk)
    assert Target.objects.filter(pk=made.pk, value=10).exists()


def test_other_manager_cannot_change_or_delete(org: Organisation) -> None:
    made = target(org.east_manager, department=org.east.pk)
    with pytest.raises(NotFound):
        services.target_update(
            actor=org.south_manager, target_id=made.pk, data={"value": 1}, version=made.version
        )
    with pytest.raises(NotFound):
        services.target_delete(actor=org.south_manager, target_id=made.pk)
    services.target_delete(actor=org.east_manager, target_id=made.pk)
    assert not Target.objects.filter(pk=made.pk).exists()


def test_parent_must_be_same_measure_and_cover_the_period(org: Organisation) -> None:
    whole = target(org.east_manager, department=org.east.pk, industry="C", value=30)
    part = target(
        org.east_manager,
        department=org.east.pk,
        industry="C",
        region="east",
        value=20,
        parent=whole.pk,
    )
    assert part.parent_id == whole.pk
    with pytest.raises(InvalidInput) as excinfo:
        target(
            org.east_manager,
            department=org.east.pk,
            measure="won_deals",
            parent=whole.pk,
        )
    assert "parent" in errors_of(excinfo)
    other = target(org.south_manager, department=org.south.pk)
    with pytest.raises(NotFound):
        target(org.east_manager, department=org.east.pk, region="south", parent=other.pk)
    # deleting the whole deletes its part
    services.target_delete(actor=org.east_manager, target_id=whole.pk)
    assert not Target.objects.filter(pk=part.pk).exists()


# --- progress ---------------------------------------------------------------------------------


def progress_of(user: Any, made: Target) -> dict[str, Any]:
    return one_progress(user=user, target_id=made.pk)


def test_new_customers_counts_the_segment_in_the_period(org: Organisation) -> None:
    """本季度新增30家制造业中小企业，其中华东区20家."""
    whole = target(
        org.east_manager,
        department=org.east.pk,
        industry="C",
        size_bands=["lt50", "50-300"],
        value=30,
    )
    east = target(
        org.east_manager,
        department=org.east.pk,
        industry="C",
        size_bands=["lt50", "50-300"],
        region="east",
        value=20,
        parent=whole.pk,
    )
    customer(org.rep, region="310101")  # 上海: east
    customer(org.hangzhou_rep, region="330100", band="50-300")  # 杭州: east
    customer(org.rep, region="440100")  # 广州: south, still the department's
    customer(org.rep, band="gt500")  # too big
    customer(org.rep, industry="F")  # not manufacturing
    customer(org.rep, industry="34")  # 通用设备制造业: a division of manufacturing
    customer(org.rep, industry="51")  # 批发业: a division of another section
    customer(org.rep, created=date(2026, 9, 30))  # before the quarter
    customer(org.rep, created=date(2027, 1, 1))  # after it
    customer(org.south_rep)  # another department
    row = progress_of(org.east_manager, whole)
    assert (row["actual"], row["value"], row["gap"]) == (4, 30, 26)
    assert row["attainment_pct"] == 13.3
    assert progress_of(org.east_manager, east)["actual"] == 3


def test_won_amount_and_deals_count_won_in_the_period(org: Organisation) -> None:
    amount = target(org.east_manager, owner=org.rep.pk, measure="won_amount", value=300000)
    deals = target(org.east_manager, owner=org.rep.pk, measure="won_deals", value=4)
    existing = target(
        org.east_manager, owner=org.rep.pk, measure="won_deals", value=2, newness="existing"
    )
    old = customer(org.rep, created=date(2026, 5, 1))
    new = customer(org.rep)
    won_deal(org.rep, old, amount="120000")
    won_deal(org.rep, new, amount="80000.50")
    won_deal(org.rep, new, closed=date(2026, 9, 30), amount="999999")  # last quarter
    won_deal(org.colleague, customer(org.colleague), amount="555")  # another rep's
    row = progress_of(org.east_manager, amount)
    assert row["actual"] == Decimal("200000.50")
    assert row["attainment_pct"] == 66.7
    assert row["gap"] == Decimal("99999.50")
    assert progress_of(org.east_manager, deals)["actual"] == 2
    assert progress_of(org.east_manager, existing)["actual"] == 1


def test_leads_converted_counts_the_period_and_department_below(org: Organisation) -> None:
    made = target(org.east_manager, department=org.east.pk, measure="leads_converted", value=3)
    buyer = customer(org.rep)
    converted_lead(org.rep, buyer)
    converted_lead(org.hangzhou_rep, customer(org.hangzhou_rep))
    converted_lead(org.rep, buyer, converted=date(2026, 8, 1))
    converted_lead(org.south_rep, customer(org.south_rep))
    row = progress_of(org.east_manager, made)
    assert row["actual"] == 2
    assert row["gap"] == 1
    assert not row["met"]
    converted_lead(org.rep, buyer, converted=date(2026, 12, 31))
    row = progress_of(org.east_manager, made)
    assert row["actual"] == 3
    assert row["met"]
    assert row["gap"] == 0


def test_met_target_has_no_negative_gap(org: Organisation) -> None:
    made = target(org.east_manager, owner=org.rep.pk, value=1)
    customer(org.rep)
    customer(org.rep)
    row = progress_of(org.east_manager, made)
    assert row["actual"] == 2
    assert row["gap"] == 0
    assert row["attainment_pct"] == 200.0


def test_rep_sees_department_progress_in_their_own_scope(org: Organisation) -> None:
    made = target(org.east_manager, department=org.shanghai.pk, value=10)
    customer(org.rep)
    customer(org.colleague)
    customer(org.colleague)
    assert progress_of(org.east_manager, made)["actual"] == 3
    assert progress_of(org.rep, made)["actual"] == 1  # the colleague's are not the rep's to see
    assert progress_of(org.admin, made)["actual"] == 3


def test_rep_amount_sums_only_visible_amounts(org: Organisation) -> None:
    made = target(org.east_manager, department=org.shanghai.pk, measure="won_amount", value=1000)
    won_deal(org.rep, customer(org.rep), amount="400")
    won_deal(org.colleague, customer(org.colleague), amount="300")
    assert progress_of(org.east_manager, made)["actual"] == Decimal(700)
    row = progress_of(org.rep, made)
    assert row["actual"] == Decimal(400)


def test_scope_of_targets(org: Organisation) -> None:
    east = target(org.east_manager, department=org.east.pk)
    own = target(org.east_manager, owner=org.rep.pk)
    colleague = target(org.east_manager, owner=org.colleague.pk)
    shanghai = target(org.east_manager, department=org.shanghai.pk)
    south = target(org.south_manager, department=org.south.pk)

    def ids(user: Any) -> set[int]:
        return {row["id"] for row in target_progress(user=user, start=QUARTER[0], end=QUARTER[1])}

    assert ids(org.rep) == {own.pk, shanghai.pk}
    assert ids(org.east_manager) == {east.pk, own.pk, colleague.pk, shanghai.pk}
    assert ids(org.south_manager) == {south.pk}
    assert ids(org.admin) == {east.pk, own.pk, colleague.pk, shanghai.pk, south.pk}
    assert ids(org.marketing) == set()
    for outsider, made in [(org.rep, colleague), (org.rep, east), (org.south_manager, east)]:
        with pytest.raises(NotFound):
            progress_of(outsider, made)


def test_progress_filters_period_department_and_rep(org: Organisation) -> None:
    q4 = target(org.east_manager, department=org.shanghai.pk)
    q3 = target(org.east_manager, department=org.shanghai.pk, start=date(2026, 7, 1))
    rep = target(org.east_manager, owner=org.hangzhou_rep.pk)
    rows = target_progress(user=org.east_manager, start=date(2026, 7, 1), end=date(2026, 9, 30))
    assert [row["id"] for row in rows] == [q3.pk]
    rows = target_progress(
        user=org.east_manager, start=QUARTER[0], end=QUARTER[1], department_id=org.hangzhou.pk
    )
    assert [row["id"] for row in rows] == [rep.pk]
    rows = target_progress(
        user=org.east_manager, start=QUARTER[0], end=QUARTER[1], owner_id=org.hangzhou_rep.pk
    )
    assert [row["id"] for row in rows] == [rep.pk]
    rows = target_progress(user=org.east_manager, start=QUARTER[0], end=QUARTER[1])
    assert {row["id"] for row in rows} == {q4.pk, rep.pk}
    assert set(rows[0]) >= {
        "id", "name", "measure", "measure_label", "scope_label", "value", "actual",
        "attainment_pct", "gap",
    }  # fmt: skip


def test_progress_on_random_data_matches_a_recount(org: Organisation) -> None:
    """Varied customers, deals and leads; each target's actual equals a recount in Python."""
    rng = random.Random(28)
    reps = [org.rep, org.colleague, org.hangzhou_rep, org.south_rep]
    regions = ["310101", "330100", "440100", "110101", "320100"]
    bands = ["lt50", "50-300", "300-500", "gt500"]
    industries = ["C", "13", "34", "F", "51", "I"]  # sections and divisions (13, 34: 制造业)
    made: list[dict[str, Any]] = []
    for _n in range(40):
        owner = rng.choice(reps)
        created = date(2026, 8, 1) + timedelta(days=rng.randrange(0, 170))
        buyer = customer(
            owner,
            created=created,
            industry=rng.choice(industries),
            region=rng.choice(regions),
            band=rng.choice(bands),
        )
        facts: dict[str, Any] = {"owner": owner, "customer": buyer, "won": [], "lead": None}
        for _deal in range(rng.randrange(0, 3)):
            closed = date(2026, 9, 1) + timedelta(days=rng.randrange(0, 150))
            amount = Decimal(rng.randrange(1_000, 500_000))
            won_deal(owner, buyer, closed=closed, amount=str(amount))
            facts["won"].append((closed, amount))
        if rng.random() < 0.5:
            converted = date(2026, 9, 1) + timedelta(days=rng.randrange(0, 150))
            converted_lead(owner, buyer, converted=converted)
            facts["lead"] = converted
        made.append(facts)
    department_targets = [
        target(
            org.east_manager, department=org.east.pk, industry="C", size_bands=["lt50", "50-300"]
        ),
        target(org.east_manager, department=org.east.pk, region="east", measure="won_deals"),
        target(org.east_manager, department=org.shanghai.pk, measure="won_amount", value=10**6),
        target(org.east_manager, department=org.east.pk, measure="leads_converted", value=5),
        target(org.east_manager, owner=org.rep.pk, measure="won_deals", newness="new"),
        target(org.east_manager, owner=org.hangzhou_rep.pk, region="330100"),
        target(org.admin, measure="won_amount", value=10**6, industry="C"),
    ]
    east_reps = {org.rep.pk, org.colleague.pk, org.hangzhou_rep.pk}
    shanghai_reps = {org.rep.pk, org.colleague.pk}

    def in_quarter(day: date) -> bool:
        return QUARTER[0] <= day <= QUARTER[1]

    def created_day(facts: dict[str, Any]) -> date:
        from django.utils import timezone

        return timezone.localtime(facts["customer"].created_at).date()

    def matches(
        facts: dict[str, Any], *, industry: str = "", region: str = "", bands: Any = ()
    ) -> bool:
        buyer = facts["customer"]
        if industry and industry not in (buyer.industry_id, buyer.industry.parent_id):
            return False
        if region and not buyer.region_id.startswith(region_prefixes(region)):
            return False
        return not bands or buyer.employees_band in bands

    expected = [
        sum(
            1
            for f in made
            if f["owner"].pk in east_reps
            and in_quarter(created_day(f))
            and matches(f, industry="C", bands=("lt50", "50-300"))
        ),
        sum(
            sum(1 for closed, _a in f["won"] if in_quarter(closed))
            for f in made
            if f["owner"].pk in east_reps and matches(f, region="east")
        ),
        sum(
            sum((a for closed, a in f["won"] if in_quarter(closed)), Decimal(0))
            for f in made
            if f["owner"].pk in shanghai_reps
        ),
        sum(
            1
            for f in made
            if f["owner"].pk in east_reps and f["lead"] is not None and in_quarter(f["lead"])
        ),
        sum(
            sum(1 for closed, _a in f["won"] if in_quarter(closed))
            for f in made
            if f["owner"].pk == org.rep.pk and created_day(f) >= QUARTER[0]
        ),
        sum(
            1
            for f in made
            if f["owner"].pk == org.hangzhou_rep.pk
            and in_quarter(created_day(f))
            and matches(f, region="330100")
        ),
        sum(
            sum((a for closed, a in f["won"] if in_quarter(closed)), Decimal(0))
            for f in made
            if matches(f, industry="C")
        ),
    ]
    rows = {
        row["id"]: row["actual"]
        for row in target_progress(user=org.admin, start=QUARTER[0], end=QUARTER[1])
    }
    assert [rows[t.pk] for t in department_targets] == expected
    assert sum(1 for value in expected if value) >= 5  # the data exercised most targets


def test_progress_runs_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    regions = ["east", "south", "north", "310000", "330000", "440000"]
    measures = ["new_customers", "won_deals", "won_amount", "leads_converted"]

    def make(first: int, n: int) -> None:
        for i in range(first, first + n):
            target(
                org.east_manager,
                owner=org.rep.pk,
                value=i + 1,
                region=regions[i % 6],
                measure=measures[i // 6],
            )

    customer(org.rep)
    won_deal(org.rep, customer(org.rep))
    make(0, 4)
    for user in (org.rep, org.east_manager, org.admin):
        with django_assert_max_num_queries(10):
            few = target_progress(user=user, start=QUARTER[0], end=QUARTER[1])
    make(4, 20)
    for user in (org.rep, org.east_manager, org.admin):
        with django_assert_max_num_queries(10):
            many = target_progress(user=user, start=QUARTER[0], end=QUARTER[1])
    assert len(few) == 4
    assert len(many) == 24


def test_empty_period_has_no_targets_not_an_error(org: Organisation) -> None:
    target(org.east_manager, department=org.east.pk)
    assert target_progress(user=org.admin, start=date(2020, 1, 1), end=date(2020, 3, 31)) == []


def test_cached_progress_is_reused_until_a_target_changes(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    made = target(org.east_manager, owner=org.rep.pk, value=4)
    customer(org.rep)
    first = target_progress(user=org.rep, start=QUARTER[0], end=QUARTER[1], cached=True)
    customer(org.rep)
    with django_assert_max_num_queries(1):  # the targets only: the counts come from the cache
        again = target_progress(user=org.rep, start=QUARTER[0], end=QUARTER[1], cached=True)
    assert first[0]["actual"] == again[0]["actual"] == 1
    assert target_progress(user=org.rep, start=QUARTER[0], end=QUARTER[1])[0]["actual"] == 2
    services.target_update(
        actor=org.east_manager, target_id=made.pk, data={"value": 5}, version=made.version
    )
    fresh = target_progress(user=org.rep, start=QUARTER[0], end=QUARTER[1], cached=True)
    assert fresh[0]["actual"] == 2
