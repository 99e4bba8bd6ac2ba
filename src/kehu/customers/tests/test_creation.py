"""One customer and a batch of them go through the same rules, and both report the change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from kehu.core.context import acting_context
from kehu.core.errors import Forbidden
from kehu.core.testing.factories import Organisation
from kehu.customers import hooks, services
from kehu.customers.models import Customer, StatusChange
from kehu.customers.tests.factories import VALID_USCC, make_customer

pytestmark = pytest.mark.django_db

# differ between any two customers, whichever path made them
OWN_VALUES = {"history_id", "history_date", "id", "number", "name", "customer", "created_at"}
OWN_VALUES |= {"contact_info_updated_at", "changed_at"}


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The reports of ``customers_changed`` that reached a callback (only this one listens)."""
    calls: list[list[int]] = []
    monkeypatch.setattr(hooks, "_callbacks", [calls.append])
    return calls


def _planned_customer(org: Organisation, capture: Any, reported: list[list[int]]) -> Customer:
    """A customer whose own creation report has run (a report still pending would collect the
    test's later ones)."""
    with capture(execute=True):
        customer = make_customer(org.rep)
    reported.clear()
    return customer


def _rows(instance: Any) -> dict[str, Any]:
    values = model_to_dict(instance)
    return {name: value for name, value in values.items() if name not in OWN_VALUES}


def _written(customer: Customer) -> dict[str, Any]:
    return {
        "customer": _rows(customer.history.get()),
        "contact": _rows(customer.contacts.get().history.get()),
        "status": _rows(StatusChange.objects.get(customer=customer)),
        "tags": sorted(customer.tags.values_list("name", flat=True)),
        "grade": customer.grade,
        "region": customer.region_id,
        "department": customer.department_id,
    }


def test_the_bulk_and_the_single_path_write_the_same_rows(org: Organisation) -> None:
    fields: dict[str, Any] = {"kind": "company", "status": "intent", "priority": "A"}
    fields["annual_budget"] = Decimal(600000)
    contact = {"name": "王伟", "mobile": "+8613912345678", "email": "wang@example.cn"}
    with acting_context("creation-test"):
        single = services.customer_create(
            actor=org.east_manager,
            data={**fields, "name": "上海甲方精工有限公司", "credit_code": VALID_USCC[0]},
            contacts=[contact],
            tags=["制造业"],
            force=True,
        )
        (bulk,) = services.customers_create_bulk(
            actor=org.east_manager,
            rows=[
                services.NewCustomer(
                    values={**fields, "name": "上海乙方精工有限公司", "credit_code": VALID_USCC[1]},
                    owner_id=None,
                    contact=contact,
                    tags=["制造业"],
                )
            ],
        )
    single.refresh_from_db()
    bulk.refresh_from_db()
    assert single.region_id  # from the credit codes
    assert bulk.region_id
    expected, written = _written(single), _written(bulk)
    assert written.pop("region") != expected.pop("region")  # the codes' own divisions
    assert written["customer"].pop("credit_code") != expected["customer"].pop("credit_code")
    assert written["customer"].pop("region") != expected["customer"].pop("region")
    assert written == expected
    assert expected["customer"]["history_change_reason"] == "创建客户"
    assert expected["customer"]["request_id"] == "creation-test"
    assert expected["grade"] == "A"
    assert bulk.number.endswith("001")  # the first of its prefix
    assert bulk.number != single.number
    assert bulk.search_text


def test_a_batch_grades_each_budget_and_takes_the_callers_keys(org: Organisation) -> None:
    """Grades are computed once per budget of a batch; a name key or pinyin the caller
    computed (the import's reading process) is what the service would compute."""
    from kehu.customers.normalize import company_key, fold, pinyin_keys

    budgets = [Decimal(600000), None, Decimal(600000), Decimal(1000), Decimal(600000)]
    names = [f"上海{'甲乙丙丁戊'[i]}方精工有限公司" for i in range(len(budgets))]
    rows = [
        services.NewCustomer(values={"name": name, "annual_budget": budget})
        for name, budget in zip(names, budgets, strict=True)
    ]
    rows[1].name_key = company_key(names[1])
    rows[1].pinyin = pinyin_keys(fold(names[1]))
    created = services.customers_create_bulk(actor=org.rep, rows=rows)
    single = [
        services.customer_create(
            actor=org.rep, data={"name": name + "分部", "annual_budget": budget}, force=True
        )
        for name, budget in zip(names, budgets, strict=True)
    ]
    assert [c.grade for c in created] == [c.grade for c in single]
    assert created[0].grade != created[1].grade  # 600,000 against no budget
    stored = Customer.objects.get(pk=created[1].pk)
    assert stored.name_key == company_key(names[1])
    fresh = Customer.objects.get(pk=created[0].pk)
    services.refresh_search(fresh, list(fresh.contacts.all()))
    assert (fresh.name_key, fresh.search_text) == (created[0].name_key, created[0].search_text)


def test_the_bulk_path_keeps_the_owner_rule(org: Organisation) -> None:
    row = services.NewCustomer(values={"name": "华南丙方有限公司"}, owner_id=org.south_rep.pk)
    with pytest.raises(Forbidden):
        services.customers_create_bulk(actor=org.east_manager, rows=[row])
    (created,) = services.customers_create_bulk(
        actor=org.east_manager,
        rows=[services.NewCustomer(values={"name": "上海丙方有限公司"}, owner_id=org.rep.pk)],
    )
    assert (created.owner_id, created.department_id) == (org.rep.pk, org.shanghai.pk)


def test_one_transaction_reports_its_customers_once_after_the_commit(
    org: Organisation, reported: list[list[int]], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = make_customer(org.rep)
        created = services.customers_create_bulk(
            actor=org.rep, rows=[services.NewCustomer(values={"name": "杭州丁方有限公司"})]
        )
        services.customer_change_status(actor=org.rep, customer=first, status="intent")
        assert reported == []  # nothing before the commit
    assert reported == [sorted([first.pk, created[0].pk])]


def test_a_rolled_back_transaction_reports_nothing(
    org: Organisation, reported: list[list[int]], django_capture_on_commit_callbacks: Any
) -> None:
    customer = _planned_customer(org, django_capture_on_commit_callbacks, reported)

    @transaction.atomic
    def create_change_and_fail() -> None:
        services.customers_create_bulk(
            actor=org.rep, rows=[services.NewCustomer(values={"name": "杭州戊方有限公司"})]
        )
        services.customer_change_status(actor=org.rep, customer=customer, status="won")
        raise RuntimeError

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        create_change_and_fail()
    assert reported == []
    assert not Customer.objects.filter(name="杭州戊方有限公司").exists()


def test_only_changes_the_follow_up_plan_depends_on_are_reported(
    org: Organisation, reported: list[list[int]], django_capture_on_commit_callbacks: Any
) -> None:
    customer = _planned_customer(org, django_capture_on_commit_callbacks, reported)
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_update(actor=org.rep, customer=customer, changes={}, tags=["甲"])
        services.customer_mark_verified(actor=org.rep, customer=customer, via="phone")
    assert reported == []
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_set_grade(actor=org.rep, customer=customer, grade="A", reason="大客户")
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_reassign(
            actor=org.east_manager, customer=customer, owner=org.colleague, reason="调岗"
        )
    assert reported == [[customer.pk], [customer.pk]]


def test_a_prepared_customer_holds_what_keyword_construction_gives(org: Organisation) -> None:
    """``customer_prepare`` builds its unsaved customer without ``Customer(...)``: every
    field holds the same value (defaults included, the callable ones fresh per instance),
    and the owner and creator are the cached users."""
    data = {"name": "上海构建检查有限公司", "employees_band": "50-300", "source": "referral"}
    first = services.customer_prepare(actor=org.rep, data=dict(data)).customer
    second = services.customer_prepare(actor=org.rep, data=dict(data)).customer
    expected = Customer(owner=org.rep, department_id=org.rep.department_id, created_by=org.rep)
    for name, value in data.items():
        setattr(expected, name, value)
    for field in Customer._meta.concrete_fields:
        if field.default is timezone.now:  # called per instance
            assert getattr(first, field.attname) is not None
            continue
        assert getattr(first, field.attname) == getattr(expected, field.attname), field.name
    assert first.to_verify is not second.to_verify
    assert first.custom is not second.custom
    assert first._state.adding
    assert first.pk is None
    assert first.owner is org.rep
    assert first.created_by is org.rep
