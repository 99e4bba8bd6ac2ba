"""The contact list page (联系人, ``customers:contact_list``): the contacts of the customers the
user sees, masked as on the customer page, searched and filtered by the API's filters
(``ContactFilters``), custom columns and filters, in a fixed number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext, override

from kehu.accounts.models import User
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services
from kehu.customers.models import Contact, Customer
from kehu.customers.tests.factories import make_customer
from kehu.integrations.models import CustomField
from kehu.integrations.services import custom_fields

pytestmark = pytest.mark.django_db

URL = "/customers/contacts/"
# session, user, a manager's departments, the scope's size (up to INLINE_CUSTOMERS), the page,
# its bounded count (a full page only), the names of user-type custom values, the reveal
# setting (masked rows only); the search adds its index look-up
PAGE_MAX = 10
REP_MOBILE = "13911112222"
SHARED_MOBILE = "13833334444"


def zh(message: str) -> str:
    with override("zh-hans"):
        return gettext(message)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(client: Client, **query: Any) -> str:
    response = client.get(URL, query)
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


def define(org: Organisation, **data: Any) -> CustomField:
    values: dict[str, Any] = {"kind": "contact", "type": "text", "label_en": "", **data}
    values.setdefault("label_zh", values["key"])
    return custom_fields.custom_field_create(actor=org.admin, data=values)


@pytest.fixture
def book(org: Organisation) -> dict[str, Customer]:
    """The rep's customer (a decision maker, one who left), a colleague's customer shared
    read-only with the rep, another colleague's (杭州组) and one of 华南区."""
    made = {
        "rep": make_customer(
            org.rep,
            name="上海星河电子",
            contacts=[
                {
                    "name": "张伟",
                    "title": "采购总监",
                    "mobile": REP_MOBILE,
                    "email": "zhangwei@xinghe.cn",
                    "is_decision_maker": True,
                },
                {"name": "李娜", "work_phone": "02155556666"},
            ],
        ),
        "shared": make_customer(
            org.colleague,
            name="苏州泵阀",
            contacts=[{"name": "王芳", "mobile": SHARED_MOBILE, "email": "wangfang@bengfa.cn"}],
        ),
        "hangzhou": make_customer(org.hangzhou_rep, name="杭州丝绸", contacts=[{"name": "赵敏"}]),
        "south": make_customer(org.south_rep, name="深圳为华", contacts=[{"name": "孙丽"}]),
    }
    services.customer_share(
        actor=org.colleague, customer=made["shared"], user=org.rep, can_edit=False
    )
    left = Contact.objects.get(name="李娜")
    services.contact_deactivate(actor=org.rep, contact=left)
    return made


def table(page: str) -> str:
    return page[page.index("<tbody>") : page.index("</tbody>")]


NAMES = ("张伟", "李娜", "王芳", "赵敏", "孙丽")


def listed(page: str) -> set[str]:
    rows = table(page)
    return {name for name in NAMES if name in rows}


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("rep", {"张伟", "李娜", "王芳"}),
        ("colleague", {"王芳"}),
        ("east_manager", {"张伟", "李娜", "王芳", "赵敏"}),
        ("south_manager", {"孙丽"}),
        ("admin", set(NAMES)),
        ("marketing", set(NAMES)),
    ],
)
def test_lists_the_contacts_of_the_customers_the_user_sees(
    org: Organisation, book: dict[str, Customer], who: str, sees: set[str]
) -> None:
    page = html(signed_in(getattr(org, who)))
    assert listed(page) == sees
    for customer in book.values():
        shown = customer.contacts.first().name in sees
        assert (reverse("customers:detail", args=[customer.pk]) in page) == shown


def test_menu_links_the_list_for_every_role(org: Organisation, book: dict[str, Customer]) -> None:
    for who in ("rep", "east_manager", "admin", "service", "marketing"):
        page = str(signed_in(getattr(org, who)).get(reverse("customers:list")).content.decode())
        assert f'href="{URL}"' in page, who


def test_masks_contacts_of_customers_without_full_access(
    org: Organisation, book: dict[str, Customer]
) -> None:
    page = html(signed_in(org.rep))
    # the rep's own customer: in full (formatted as on the customer page)
    assert "139 1111 2222" in page
    assert "zhangwei@xinghe.cn" in page
    # the colleague's customer, shared read-only: masked, never in full
    assert "138****4444" in page
    assert SHARED_MOBILE not in page
    assert "138 3333 4444" not in page
    assert "wangfang@bengfa.cn" not in page
    assert 'id="masked-note"' in page
    manager = html(signed_in(org.east_manager))  # the team's manager: everything in full
    assert "138 3333 4444" in manager
    assert "wangfang@bengfa.cn" in manager
    assert 'id="masked-note"' not in manager
    marketing = html(signed_in(org.marketing))
    assert REP_MOBILE not in marketing
    assert "139 1111 2222" not in marketing
    assert "139****2222" in marketing


def test_search_by_name_phone_and_email(org: Organisation, book: dict[str, Customer]) -> None:
    client = signed_in(org.rep)
    assert listed(html(client, q="张伟")) == {"张伟"}
    assert listed(html(client, q="1111")) == {"张伟"}
    assert listed(html(client, q="5555")) == {"李娜"}
    assert listed(html(client, q="xinghe")) == {"张伟"}
    # a masked contact is found by its number too, and still shown masked
    found = html(client, q=SHARED_MOBILE)
    assert listed(found) == {"王芳"}
    assert SHARED_MOBILE not in table(found)  # the page echoes the search, the table not
    assert "138****4444" in table(found)
    assert listed(html(client, q="孙丽")) == set()  # out of scope stays out


def test_active_and_decision_maker_filters(org: Organisation, book: dict[str, Customer]) -> None:
    client = signed_in(org.rep)
    assert listed(html(client, active="true")) == {"张伟", "王芳"}
    assert listed(html(client, active="false")) == {"李娜"}
    assert listed(html(client, decision_maker="true")) == {"张伟"}
    assert listed(html(client, customer_id=book["shared"].pk)) == {"王芳"}


def test_bad_filter_values_give_the_message_not_an_error(
    org: Organisation, book: dict[str, Customer]
) -> None:
    client = signed_in(org.rep)
    for query in (
        {"active": "maybe"},
        {"sort": "salary"},
        {"customer_id": "abc"},
        {"customer_id": "99999999999999999999"},
        {"cf": "nokey:1"},
        {"page": "x", "per_page": "-1"},
    ):
        page = html(client, **query)
        if "page" not in query:
            assert zh("Some filters were not valid and were ignored:") in page, query
        assert listed(page) == {"张伟", "李娜", "王芳"}, query


def test_custom_columns_and_filters(org: Organisation, book: dict[str, Customer]) -> None:
    define(
        org,
        key="role_level",
        label_zh="角色层级",
        label_en="Role level",
        type="choice",
        choices=["决策", "执行"],
        filterable=True,
    )
    define(org, key="hobby", label_zh="爱好", label_en="Hobby", sensitive=True)
    zhang = Contact.objects.get(name="张伟")
    wang = Contact.objects.get(name="王芳")
    Contact.objects.filter(pk=zhang.pk).update(custom={"role_level": "决策", "hobby": "高尔夫"})
    Contact.objects.filter(pk=wang.pk).update(custom={"role_level": "执行", "hobby": "钓鱼"})
    client = signed_in(org.rep)
    plain = html(client)
    assert 'id="cf-role_level"' in plain  # the filter
    assert 'id="col-hobby"' in plain  # the column chooser
    assert 'data-custom-column="hobby"' not in plain
    page = html(client, columns=["role_level", "hobby"])
    assert 'data-custom-column="role_level"' in page
    assert "高尔夫" in page  # the rep's own contact
    assert "钓鱼" not in page  # sensitive, on a customer shared read-only: masked
    assert "****" in page
    assert listed(html(client, cf="role_level:决策")) == {"张伟"}
    assert listed(html(client, cf_role_level="执行")) == {"王芳"}
    bad = html(client, cf="hobby:钓鱼")  # not filterable
    assert zh("Not a filterable field: %(key)s.") % {"key": "hobby"} in bad
    assert listed(bad) == {"张伟", "李娜", "王芳"}
    # the API reads the same filters
    api = api_client(org.rep).get("/api/v1/contacts", {"cf": "role_level:决策"})
    assert [row["name"] for row in api.json()["items"]] == ["张伟"]
    assert api_client(org.rep).get("/api/v1/contacts", {"active": "maybe"}).status_code == 422


def test_sort_and_pages(org: Organisation, book: dict[str, Customer]) -> None:
    client = signed_in(org.admin)
    page = html(client, sort="name")
    order = sorted(NAMES)
    positions = [page.index(name) for name in order]
    assert positions == sorted(positions)
    newest = html(client, sort="-created")
    assert newest.index("孙丽") < newest.index("张伟")
    first = html(client, per_page=25)
    assert 'id="next-page"' not in first
    for number in range(30):
        Contact.objects.create(customer=book["south"], name=f"联系人{number:02d}")
    first = html(client)
    assert 'id="next-page"' in first
    assert "联系人00" in first
    second = html(client, page=2)
    assert "联系人00" not in second
    assert "联系人29" in second
    beyond = html(client, page=99)  # past the end: the last page
    assert "联系人29" in beyond


def test_htmx_refresh_answers_the_results_only(
    org: Organisation, book: dict[str, Customer]
) -> None:
    response = signed_in(org.rep).get(
        URL, {"q": "张"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="contact-results"
    )
    body = response.content.decode()
    assert 'id="contact-list-table"' in body
    assert 'id="contact-filters"' not in body
    assert "<html" not in body


@pytest.mark.parametrize("who", ["rep", "east_manager", "admin"])
def test_fixed_number_of_queries(
    org: Organisation, who: str, django_assert_max_num_queries: Any
) -> None:
    define(
        org, key="role_level", label_zh="角色层级", type="choice", choices=["决策"], filterable=True
    )
    define(org, key="owner_user", label_zh="对接人", type="user")
    user = getattr(org, who)
    owner = org.rep if who == "rep" else org.colleague
    client = signed_in(user)
    query = {"columns": ["role_level", "owner_user"], "per_page": 50}
    counts = []
    for rows in (5, 50):
        customer = make_customer(owner)
        Contact.objects.bulk_create(
            Contact(
                customer=customer,
                name=f"联系人{n}",
                mobile=f"1390000{n:04d}",
                custom={"role_level": "决策", "owner_user": org.rep.pk},
            )
            for n in range(rows)
        )
        client.get(URL, query)  # warm-up: the custom-field definitions are read once
        with django_assert_max_num_queries(PAGE_MAX) as captured:
            page = html(client, **query)
        counts.append(len(captured))
        assert page.count("data-contact-id=") == min(rows + (5 if rows == 50 else 0), 50)
        with django_assert_max_num_queries(PAGE_MAX):
            html(client, q="13900", cf="role_level:决策")
    # one query more at most: the bounded count, which a short page does without
    assert counts[1] - counts[0] <= 1, counts


def test_every_string_is_translated(org: Organisation, book: dict[str, Customer]) -> None:
    client = signed_in(org.rep)
    page = html(client, active="maybe", sort="salary")
    for english in (
        "Contacts",
        "Name, phone or email",
        "Still at the customer",
        "All contacts",
        "Left the customer",
        "Decision maker",
        "Clear filters",
        "Contact name",
        "Customer",
        "Added",
        "Sort",
        "Some filters",
        "No contacts",
    ):
        assert english not in page, english
    for chinese in ("联系人", "仍在职", "已离职", "决策人", "添加日期", "排序", "3 位联系人"):
        assert chinese in page, chinese
    assert "没有符合条件的联系人。" in html(client, q="没有这个人")
