"""``RowUpdater`` (bulk UPDATE of changed rows), ``validate_values`` (full_clean's checks of a
new row's values), ``events.emit_many`` with per-record data, and COPY's errors."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from kehu.core import events
from kehu.core.bulk_insert import RowInserter, RowUpdater
from kehu.core.errors import InvalidInput
from kehu.core.services import validate, validate_values
from kehu.customers.models import Contact, Customer, CustomerStatus

pytestmark = pytest.mark.django_db


def customers(count: int) -> list[Customer]:
    return [
        Customer.objects.create(
            number=f"KH-UPD-{index}",
            name=f"更新客户{index}有限公司",
            status=CustomerStatus.POTENTIAL,
        )
        for index in range(count)
    ]


def test_updated_rows_read_back_like_saved_ones() -> None:
    first, second, third = customers(3)
    when = timezone.now() - timedelta(days=2, microseconds=3)
    updater = RowUpdater(
        Customer, ("notes", "annual_budget", "to_verify", "updated_at", "founded_on", "custom")
    )
    first.notes, first.annual_budget = "引号 ' \" \\ 和换行\n", Decimal("12.50")
    first.to_verify = ["notes"]
    first.updated_at, first.founded_on, first.custom = when, date(2020, 1, 2), {"级别": "一级"}
    second.notes, second.annual_budget, second.to_verify = "", None, []
    second.updated_at, second.founded_on, second.custom = when, None, {}
    assert updater.update_objects([first, second]) == 2
    for saved in (first, second):
        row = Customer.objects.get(pk=saved.pk)
        for name in updater.columns:
            assert getattr(row, name) == getattr(saved, name), name
    untouched = Customer.objects.get(pk=third.pk)
    assert (untouched.notes, untouched.version, untouched.updated_at) == (
        "",
        third.version,
        third.updated_at,
    )
    assert Customer.objects.get(pk=first.pk).name == first.name  # other columns left alone


def test_a_value_too_long_is_refused_not_cut() -> None:
    (customer,) = customers(1)
    if connection.vendor == "sqlite":
        pytest.skip("SQLite does not check lengths: there is nothing to cut")
    with pytest.raises(DataError), transaction.atomic():
        RowUpdater(Customer, ("name",)).update([(customer.pk, "长" * 201)])
    assert Customer.objects.get(pk=customer.pk).name == customer.name


def test_batches_and_unknown_columns() -> None:
    rows = customers(5)
    updater = RowUpdater(Customer, ("notes",))
    assert updater.update([(row.pk, f"第{row.pk}批") for row in rows], batch_size=2) == 5
    assert {row.notes for row in Customer.objects.all()} == {f"第{row.pk}批" for row in rows}
    assert updater.update([]) == 0
    for columns in ((), ("id",), ("nope",), ("notes", "notes")):
        with pytest.raises(ValueError, match="cannot update"):
            RowUpdater(Customer, columns)


@pytest.mark.parametrize(
    "values",
    [
        {"name": "王" * 101},
        {"name": "王经理", "title": "总" * 200, "wechat": "x" * 200},
        {"name": "王经理", "email": "not an address"},
        {"name": "王经理", "gender": "x"},
        {"name": None},
        {"name": "王经理", "email": "wang@example.cn", "is_primary": True},
    ],
)
def test_validate_values_answers_as_full_clean(values: dict[str, Any]) -> None:
    customer = customers(1)[0]
    expected: Any = None
    try:
        validate(Contact(customer=customer, **values), exclude=["customer"])
    except InvalidInput as error:
        expected = (error.detail, error.errors)
    got: Any = None
    try:
        validate_values(Contact, values)
    except InvalidInput as error:
        got = (error.detail, error.errors)
    assert got == expected


def test_validate_values_refuses_what_it_cannot_check() -> None:
    with pytest.raises(ValueError, match="does not check"):
        validate_values(Customer, {"name": "x"})  # unique number and credit code
    with pytest.raises(ValueError, match="checks no field"):
        validate_values(Contact, {"customer": 1})


def test_emit_many_carries_each_records_data(django_capture_on_commit_callbacks: Any) -> None:
    told: list[list[events.Event]] = []
    events.on_events(told.append)
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            events.emit_many("customer.updated", [3, 1], data={3: {"fields": ["name"]}})
    finally:
        events._listeners.remove(told.append)
    ((first, second),) = told
    assert (first.instance_id, first.data, second.instance_id, second.data) == (
        3,
        {"fields": ["name"]},
        1,
        {},
    )


def test_a_unique_key_taken_by_an_insert_is_djangos_integrity_error() -> None:
    (customer,) = customers(1)
    inserter = RowInserter(Customer)
    values = {name: getattr(customer, name) for name in inserter.columns}
    with pytest.raises(IntegrityError), transaction.atomic():
        inserter.insert([inserter.row(values)])
