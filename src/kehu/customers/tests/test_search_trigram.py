"""Substring search through the trigram indexes: the same result sets on SQLite (FTS5) and
PostgreSQL (pg_trgm). CI runs this module on both databases; the expected sets are written
out once, so any difference between the two paths fails on one of them."""

from __future__ import annotations

import pytest
from django.db import connection

from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import search_index, selectors, services
from kehu.customers.models import Contact, Customer
from kehu.customers.selectors import CustomerFilters, contact_list, contact_search, search
from kehu.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db

QUOTED = 'Alpha "Beta" (NEAR) 50% a_b*'


@pytest.fixture
def book(org: Organisation) -> dict[str, Customer]:
    def add(name: str, *contacts: dict[str, str]) -> Customer:
        return make_customer(org.rep, name=name, contacts=list(contacts))

    return {
        "xinghe": add(
            "上海星河电子科技有限公司",
            {"name": "王伟", "mobile": "13812345555", "email": "wang.wei@xinghe.cn"},
            {"name": "Li Na", "work_phone": "02155556666", "email": "lina@xinghe.cn"},
        ),
        "huawei": add("华为技术有限公司", {"name": "张华", "mobile": "13900001111"}),
        "weihua": add("深圳为华贸易有限公司", {"name": "华为民", "email": "WEI@Example.com"}),
        "quoted": add(QUOTED, {"name": 'O"Brien (AND)', "email": "o_brien@near.org"}),
        "percent": add("百分百100%纯净水厂", {"name": "赵敏", "mobile": "13700005555"}),
        "other": add("北京远景咨询有限公司", {"name": "Zhang San", "email": "zs@yuanjing.com"}),
    }


def customers(user: object, q: str) -> set[str]:
    queryset = CustomerFilters(q=q).apply(Customer.objects.visible_to(user))
    return set(queryset.values_list("name", flat=True))


def contacts(user: object, q: str) -> set[str]:
    return set(contact_list(user=user, q=q).values_list("name", flat=True))


CUSTOMER_CASES = [
    # name fragments, Chinese of every length
    ("星河电子", {"上海星河电子科技有限公司"}),
    ("华为", {"华为技术有限公司", "深圳为华贸易有限公司"}),  # 深圳为华's contact 华为民
    ("为华", {"深圳为华贸易有限公司"}),
    ("华", {"华为技术有限公司", "深圳为华贸易有限公司"}),
    (
        "有限公司",
        {
            "上海星河电子科技有限公司",
            "华为技术有限公司",
            "深圳为华贸易有限公司",
            "北京远景咨询有限公司",
        },
    ),
    # pinyin, full and initials
    ("xinghe", {"上海星河电子科技有限公司"}),
    ("shxhdzkj", {"上海星河电子科技有限公司"}),
    ("hwjs", {"华为技术有限公司"}),
    ("bj", {"北京远景咨询有限公司"}),
    # phone digits, whatever the separators; numbers of contacts and e-mails
    ("5555", {"上海星河电子科技有限公司", "百分百100%纯净水厂"}),
    ("5555 6666", {"上海星河电子科技有限公司"}),
    ("8613900001111", {"华为技术有限公司"}),
    ("lina@xinghe", {"上海星河电子科技有限公司"}),
    ("example.com", {"深圳为华贸易有限公司"}),
    ("EXAMPLE.COM", {"深圳为华贸易有限公司"}),
    # every term must match, short and long mixed
    ("星河 wang", {"上海星河电子科技有限公司"}),
    ("星河 华为", set()),
    ("华 zh", {"深圳为华贸易有限公司"}),  # shenzhen
    # query syntax of FTS5 and LIKE is matched literally
    ('"beta"', {QUOTED}),
    ('"', {QUOTED}),
    ("(near)", {QUOTED}),
    ("near", {QUOTED}),
    ("and", {QUOTED}),  # its contact O"Brien (AND)
    ("50%", {QUOTED}),
    ("100%纯", {"百分百100%纯净水厂"}),
    ("%", {QUOTED, "百分百100%纯净水厂"}),
    ("a_b*", {QUOTED}),
    ("_", {QUOTED}),
    ("a%b", set()),
    ("*", {QUOTED}),
    (
        "j",
        {
            "上海星河电子科技有限公司",
            "华为技术有限公司",
            "百分百100%纯净水厂",
            "北京远景咨询有限公司",
        },
    ),  # keji, jishu, jingshui, beijing
    ("NEAR(星河, 电子)", set()),
    ("星河\x00电子", set()),
    ("^星河", set()),
    ("{name}:星河", set()),
    ("-星河电子", set()),
    ("\\", set()),
]


@pytest.mark.parametrize(("q", "expected"), CUSTOMER_CASES)
def test_customer_search_finds_the_same_customers_on_both_databases(
    org: Organisation, book: dict[str, Customer], q: str, expected: set[str]
) -> None:
    assert customers(org.rep, q) == expected


CONTACT_CASES = [
    ("王伟", {"王伟"}),
    ("华", {"张华", "华为民"}),
    ("华为", {"华为民"}),
    ("li na", {"Li Na"}),
    ("LI NA", {"Li Na"}),
    ("zhang", {"Zhang San"}),
    ("xinghe.cn", {"王伟", "Li Na"}),
    ("wei@example", {"华为民"}),
    ("5555", {"王伟", "Li Na", "赵敏"}),  # mobile and work phone
    ("5555 6666", {"Li Na"}),
    ("139-0000-1111", {"张华"}),
    ("55", set()),  # fewer than three digits: names and e-mails only
    ("n", {"Li Na", "Zhang San", 'O"Brien (AND)', "王伟"}),  # 王伟: wang.wei@xinghe.cn
    ('"', {'O"Brien (AND)'}),
    ('o"b', {'O"Brien (AND)'}),
    ("(and)", {'O"Brien (AND)'}),
    ("_", {'O"Brien (AND)'}),
    ("o_b", {'O"Brien (AND)'}),
    ("%", set()),
    ("near", {'O"Brien (AND)'}),
    ("*", set()),
    ("赵" * 200, set()),
    ("王\x00伟", set()),
]


@pytest.mark.parametrize(("q", "expected"), CONTACT_CASES)
def test_contact_search_finds_the_same_contacts_on_both_databases(
    org: Organisation, book: dict[str, Customer], q: str, expected: set[str]
) -> None:
    assert contacts(org.rep, q) == expected


def test_common_terms_read_with_like_find_the_same(
    org: Organisation, book: dict[str, Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite reads a term the index matches too often with LIKE instead (_index_matches)
    from kehu.customers import selectors

    monkeypatch.setattr(selectors, "COMMON_MATCHES", 0)
    assert {q: customers(org.rep, q) for q, _expected in CUSTOMER_CASES} == dict(CUSTOMER_CASES)
    assert {q: contacts(org.rep, q) for q, _expected in CONTACT_CASES} == dict(CONTACT_CASES)


def test_terms_of_200_characters_match_literally(
    org: Organisation, book: dict[str, Customer]
) -> None:
    # the list's filters take at most 100 characters (a message, not an error); the
    # selector itself matches any length
    visible = Customer.objects.visible_to(org.rep)
    assert not search(visible, "星" * 200).exists()
    assert not search(visible, "星河" * 100).exists()
    assert not search(visible, "上海星河电子科技有限公司" + "x" * 188).exists()
    repeated = search(visible, "上海星河电子科技有限公司 " * 16)
    assert set(repeated.values_list("name", flat=True)) == {"上海星河电子科技有限公司"}


def test_search_stays_inside_the_scope(org: Organisation, book: dict[str, Customer]) -> None:
    make_customer(org.south_rep, name="广州星河电子有限公司", contacts=[{"name": "王伟明"}])
    assert customers(org.rep, "星河电子") == {"上海星河电子科技有限公司"}
    assert customers(org.admin, "星河电子") == {"上海星河电子科技有限公司", "广州星河电子有限公司"}
    assert contacts(org.rep, "王伟") == {"王伟"}
    assert contacts(org.admin, "王伟") == {"王伟", "王伟明"}


def test_the_index_follows_every_write(org: Organisation, book: dict[str, Customer]) -> None:
    customer = book["xinghe"]
    services.customer_update(actor=org.rep, customer=customer, changes={"name": "上海银河电子"})
    assert customers(org.rep, "星河电子") == set()
    assert customers(org.rep, "银河电子") == {"上海银河电子"}
    # a write that is not a save: update() as the search keys' refresh and the loaders do
    Customer.objects.filter(pk=book["other"].pk).update(search_text="远方 far away")
    assert customers(org.rep, "far away") == {"北京远景咨询有限公司"}
    assert customers(org.rep, "远景咨询") == set()
    Contact.objects.filter(name="Zhang San").update(name="Wang Wu", email="")
    assert contacts(org.rep, "zhang") == set()
    assert contacts(org.rep, "wang w") == {"Wang Wu"}
    # deletes, also by cascade
    Customer.objects.filter(pk=book["huawei"].pk).delete()
    assert customers(org.rep, "hwjs") == set()
    assert contacts(org.rep, "13900001111") == set()


def test_api_answers_bad_terms_without_errors(org: Organisation, book: dict[str, Customer]) -> None:
    client = api_client(org.rep)
    for q in ['"', "*", "%", "_", "NEAR", "a AND b", "(", ")", "x" * 100, '"星河" OR "华为"']:
        found = client.get("/api/v1/customers", {"q": q})
        assert found.status_code == 200, q
        listed = client.get("/api/v1/contacts", {"q": q})
        assert listed.status_code == 200, q
    assert client.get("/api/v1/contacts", {"q": "x" * 200}).json()["count"] == 0


def _sqlite() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's FTS5 index")


def _plan(sql: str, params: object) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " | ".join(str(row[-1]) for row in cursor.fetchall())


def test_sqlite_reads_the_matches_from_the_fts_tables(
    org: Organisation, book: dict[str, Customer]
) -> None:
    _sqlite()
    searched = CustomerFilters(q="星河电子").apply(Customer.objects.visible_to(org.rep))
    plan = _plan(*searched.query.sql_with_params())
    assert "VIRTUAL TABLE INDEX" in plan
    assert "SCAN customers_customer" not in plan
    listed = contact_list(user=org.rep, q="5555")
    plan = _plan(*listed.query.sql_with_params())
    assert "VIRTUAL TABLE INDEX" in plan
    assert "SCAN customers_contact" not in plan


def test_sqlite_reads_two_han_characters_through_the_customers_index(
    org: Organisation, book: dict[str, Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    _sqlite()
    # a customer name holding the pair, and a contact's e-mail: LIKE still decides
    make_customer(org.rep, name="华为民生有限公司", contacts=[{"name": "钱多"}])
    make_customer(org.rep, name="远方有限公司", contacts=[{"name": "Ann", "email": "ann@华为.cn"}])
    listed = contact_list(user=org.rep, q="华为")
    plan = _plan(*listed.query.sql_with_params())
    assert "VIRTUAL TABLE INDEX" in plan
    assert "SCAN customers_contact" not in plan
    assert contacts(org.rep, "华为") == {"华为民", "Ann"}
    # the page's count, in the per-row form of the scope (no first customers' part)
    monkeypatch.setattr(selectors, "INLINE_CUSTOMERS", 1)
    page = selectors.contact_page(user=org.rep, offset=0, limit=1, q="华为")
    assert (len(page["items"]), page["count"], page["count_capped"]) == (1, 2, False)


def test_sqlite_puts_back_triggers_a_table_rebuild_dropped(
    org: Organisation, book: dict[str, Customer]
) -> None:
    _sqlite()
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER customers_customer_fts_insert")
    missed = make_customer(org.rep, name="重庆山城火锅有限公司")
    assert customers(org.rep, "山城火锅") == set()  # the index missed it
    assert search_index.ensure(connection) == ["customers_customer_fts"]
    assert search_index.ensure(connection) == []  # nothing missing any more
    assert customers(org.rep, "山城火锅") == {missed.name}
    assert customers(org.rep, "星河电子") == {"上海星河电子科技有限公司"}


def test_sqlite_migration_indexes_the_existing_rows(
    org: Organisation, book: dict[str, Customer]
) -> None:
    _sqlite()
    search_index.drop(connection)
    search_index.create(connection)
    assert customers(org.rep, "星河电子") == {"上海星河电子科技有限公司"}
    assert contacts(org.rep, "5555") == {"王伟", "Li Na", "赵敏"}


def test_postgresql_reads_the_contact_search_from_its_trigram_index(
    org: Organisation, book: dict[str, Customer]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's pg_trgm index")
    listed = contact_search(Contact.objects.all(), "5555")
    sql, params = listed.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: the planner would scan
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert plan.count("Bitmap Index Scan on contact_search_trgm") == 4, plan
