"""``duplicates_in_turn``: a batch of new customers' duplicate check, the same answers as
``find_duplicates`` / ``customer_create`` row by row, or none where they could differ."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.testing.factories import Organisation
from kehu.customers import services
from kehu.customers.services import DedupKeys, DuplicateCustomer, dedup
from kehu.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def single(row: DedupKeys, actor: object) -> DuplicateCustomer | None:
    matches = services.find_duplicates(
        name=row.name, phones=row.phones, emails=row.emails, credit_code=row.credit_code
    )
    return DuplicateCustomer(matches, actor=actor) if matches else None


def test_the_answers_are_find_duplicates_answers(org: Organisation) -> None:
    theirs = make_customer(
        org.south_rep,
        name="宁波海曙贸易有限公司",
        contacts=[{"name": "周", "mobile": "13900000001", "email": "zhou@haishu.cn"}],
    )
    # the same key, the rep's (an administrator may create it anyway)
    make_customer(org.admin, name="宁波海曙贸易股份有限公司", owner=org.rep.pk)
    make_customer(org.rep, name="杭州西湖龙井茶叶贸易有限公司", contacts=[{"name": "吴"}])
    make_customer(
        org.colleague,
        name="温州鹿城鞋业有限公司",
        contacts=[{"name": "林", "work_phone": "0577-88881234", "email": "lin@lucheng.cn"}],
    )
    rows = [
        DedupKeys(name="宁波海曙贸易有限公司"),  # two by name, one of them masked
        DedupKeys(name="杭州西湖龙井茶业贸易有限公司"),  # 90 %
        DedupKeys(name="嘉兴南湖纺织有限公司", phones=["139 0000 0001"]),
        DedupKeys(name="湖州吴兴竹业有限公司", emails=["LIN@lucheng.cn"], phones=["057788881234"]),
        DedupKeys(name="舟山定海海产有限公司"),  # clear
        DedupKeys(
            name="宁波海曙贸易有限公司",  # name, phone and e-mail of one, sorted by reason
            phones=["13900000001"],
            emails=["zhou@haishu.cn"],
        ),
        DedupKeys(name="", phones=["13700000000"]),  # a person: clear
    ]
    answers = services.duplicates_in_turn(rows, actor=org.rep)
    assert answers.decided == len(rows)
    assert answers.clear == [4, 6]
    for index, row in enumerate(rows):
        expected = single(row, org.rep)
        got = answers.duplicates.get(index)
        if expected is None:
            assert got is None
            continue
        assert got is not None
        assert got.matches == expected.matches
        assert got.payload() == expected.payload()
    masked = answers.duplicates[0].payload()["matches"]
    assert [m["visible"] for m in masked] == [False, True]
    assert theirs.pk not in {m.get("id") for m in masked}
    assert [m.reason for m in answers.duplicates[5].matches][:3] == ["phone", "email", "name"]


def test_a_fixed_number_of_queries(org: Organisation) -> None:
    make_customer(
        org.rep, name="宁波海曙贸易有限公司", contacts=[{"name": "周", "mobile": "13900000001"}]
    )

    def rows(count: int) -> list[DedupKeys]:
        return [
            DedupKeys(
                name=f"宁波海曙贸易{'有限' if i % 2 else '股份有限'}公司"
                if i % 3 == 0
                else f"城{i}号机械厂",
                phones=["13900000001"] if i % 5 == 0 else [f"1370000{i:04d}"],
            )
            for i in range(count)
        ]

    with CaptureQueriesContext(connection) as ten:
        services.duplicates_in_turn(rows(10), actor=org.rep)
    with CaptureQueriesContext(connection) as hundred:
        answers = services.duplicates_in_turn(rows(100), actor=org.rep)
    assert answers.decided == 100
    assert len(hundred.captured_queries) == len(ten.captured_queries) <= 6


def test_rows_whose_single_check_could_differ_are_left_to_it(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_customer(org.rep, name="丽水莲都茶叶有限公司", credit_code="91330300MA2CD5678W")
    clear = DedupKeys(name="舟山定海海产有限公司", phones=["13700000009"])
    # a credit code in use: the single create refuses it before its duplicate check
    used = DedupKeys(name="衢州柯城木业有限公司", credit_code="91330300MA2CD5678W")
    answers = services.duplicates_in_turn([clear, used, clear], actor=org.rep)
    assert (answers.clear, answers.duplicates, answers.decided) == ([0], {}, 1)
    # like an earlier row that is clear (written first, its id unknown yet)
    like = DedupKeys(name="舟山定海海产股份有限公司")
    same_phone = DedupKeys(name="衢州柯城木业有限公司", phones=["137 0000 0009"])
    for later in (like, same_phone):
        answers = services.duplicates_in_turn([clear, later], actor=org.rep)
        assert (answers.clear, answers.decided) == ([0], 1)
    # a crowded prefix: the single check reads only some of its rows. A short key ("安达")
    # reads the rows of every longer key it starts.
    monkeypatch.setattr(dedup, "NAME_CANDIDATES", 2)
    for name in ("安达有限公司", "安达信咨询有限公司", "安达利物流有限公司"):
        make_customer(org.rep, name=name)
    answers = services.duplicates_in_turn([clear, DedupKeys(name="安达公司")], actor=org.rep)
    assert (answers.clear, answers.decided) == ([0], 1)
    # at most NAME_CANDIDATES rows: all are read, the answer is find_duplicates'
    make_customer(org.rep, name="绍兴柯桥印染有限公司")
    row = DedupKeys(name="绍兴柯桥印染有限公司")
    answers = services.duplicates_in_turn([row], actor=org.rep)
    expected = single(row, org.rep)
    assert expected is not None
    assert answers.decided == 1
    assert answers.duplicates[0].matches == expected.matches


def test_more_contacts_than_the_single_check_reads_are_left_to_it(org: Organisation) -> None:
    rows = [
        services.NewCustomer(
            values={"name": f"城{i}号机械厂"}, contact={"name": "王", "mobile": "+8613900000001"}
        )
        for i in range(dedup.CONTACT_MATCHES)
    ]
    services.customers_create_bulk(actor=org.admin, rows=rows)
    few = DedupKeys(name="舟山定海海产有限公司", phones=["13700000009"])
    many = DedupKeys(name="衢州柯城木业有限公司", phones=["13900000001"])
    answers = services.duplicates_in_turn([few, many], actor=org.admin)
    assert (answers.clear, answers.duplicates, answers.decided) == ([0], {}, 1)


def test_suspects_meet_an_earlier_persons_name(org: Organisation) -> None:
    """A person's row has no name to check, but once the batch writes it, a later company of
    that name is its duplicate (as the single create finds it): a suspect."""
    rows = [
        DedupKeys(name="", written_name="张伟明"),  # an individual customer
        DedupKeys(name="张伟明"),
        DedupKeys(name="无关联的贸易有限公司"),
    ]
    assert services.duplicate_suspects(rows) == [False, True, False]
