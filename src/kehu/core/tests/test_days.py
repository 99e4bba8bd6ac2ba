from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from kehu.core.days import day_start, on_days
from kehu.customers.models import Customer

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_day_start_is_local_midnight() -> None:
    start = day_start(datetime.date(2026, 12, 1))
    assert start == datetime.datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert start == datetime.datetime(2026, 11, 30, 16, tzinfo=datetime.UTC)


def test_on_days_reads_local_days_at_their_edges() -> None:
    instants = {
        "late on the 30th": datetime.datetime(2026, 11, 30, 23, 59, 59, tzinfo=SHANGHAI),
        "first second of the 1st": datetime.datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI),
        "end of the 1st": datetime.datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=SHANGHAI),
        "the 2nd": datetime.datetime(2026, 12, 2, 0, 0, tzinfo=SHANGHAI),
    }
    for number, (name, instant) in enumerate(instants.items()):
        customer = Customer.objects.create(number=f"KH-D{number}", name=name)
        Customer.objects.filter(pk=customer.pk).update(created_at=instant)

    def names(first: datetime.date | None, last: datetime.date | None) -> set[str]:
        rows = Customer.objects.filter(on_days("created_at", first, last))
        return set(rows.values_list("name", flat=True))

    first_of_december = datetime.date(2026, 12, 1)
    assert names(first_of_december, first_of_december) == {
        "first second of the 1st",
        "end of the 1st",
    }
    assert names(None, datetime.date(2026, 11, 30)) == {"late on the 30th"}
    assert names(datetime.date(2026, 12, 2), None) == {"the 2nd"}
    assert names(None, None) == set(instants)
    # the same days as Django's __date lookup, which casts every row
    same = Customer.objects.filter(created_at__date=first_of_december)
    assert set(same.values_list("name", flat=True)) == names(first_of_december, first_of_december)
