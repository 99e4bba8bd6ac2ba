"""Custom fields (自定义字段) in the search box and the saved filters of the lead list, the
deal list and board, and the ticket list (the customers' list has both already).

Search: the list's ``q`` (page and API, one filter definition) also finds a record by the
text of its text-like custom values (text, long text, URL, choice, an item of a multiple
choice), never by a sensitive field's value nor by a field the user may not see, and without
an extra query. Saved filters: one model (``customers.SavedFilter`` with its ``list_name``)
serves every list; a saved filter is the user's own, its name unique per list, and it keeps a
custom-field filter (``cf``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.translation import gettext, override

from kehu.core import custom_fields
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, SavedFilter
from kehu.customers.tests.factories import make_customer
from kehu.integrations.models import CustomField
from kehu.integrations.services import custom_fields as services
from kehu.integrations.tests.test_custom_field_pages import capture, raise_ticket
from kehu.leads.models import Lead
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import make_opportunity
from kehu.service.models import Ticket

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Kind:
    """One list whose search and saved filters are tested: how to make a record named
    ``name`` with custom values, who lists them, and where."""

    kind: str
    list_name: str
    page: str  # URL name of the list page
    api: str
    user: str  # the Organisation attribute of who lists the records
    other: str  # another user who sees the list (not the saved filters)
    make: Callable[[Organisation, str], Any]


_numbers = itertools.count(1)


def _lead(org: Organisation, name: str) -> Lead:
    lead = capture(org.rep, next(_numbers))
    Lead.objects.filter(pk=lead.pk).update(company_name=name)
    return lead


def _deal(org: Organisation, name: str) -> Opportunity:
    return make_opportunity(
        org.rep, customer=Customer.objects.filter(owner=org.rep).first(), name=name
    )


def _ticket(org: Organisation, name: str) -> Ticket:
    return raise_ticket(org, name)


KINDS = [
    Kind("lead", "leads", "leads:list", "/api/v1/leads", "rep", "colleague", _lead),
    Kind(
        "opportunity",
        "opportunities",
        "opportunities:list",
        "/api/v1/opportunities",
        "rep",
        "east_manager",
        _deal,
    ),
    Kind("ticket", "tickets", "service:tickets", "/api/v1/tickets", "service", "admin", _ticket),
]
IDS = [kind.kind for kind in KINDS]


def _contact(org: Organisation, name: str) -> Contact:
    customer = Customer.objects.filter(owner=org.rep).first() or make_customer(org.rep)
    return customer_services.contact_create(actor=org.rep, customer=customer, data={"name": name})


# The contact list saves filters too; its search reads names, phones and e-mails only.
CONTACTS = Kind(
    "contact",
    "contacts",
    "customers:contact_list",
    "/api/v1/contacts",
    "rep",
    "colleague",
    _contact,
)


def define(org: Organisation, kind: str, key: str, **data: Any) -> CustomField:
    values: dict[str, Any] = {"kind": kind, "key": key, "type": "text", "label_zh": key, **data}
    return services.custom_field_create(actor=org.admin, data=values)


def fields_and_records(org: Organisation, kind: Kind) -> None:
    """Fields of every searchable sort and the ones search must not read; one record each."""
    define(org, kind.kind, "project", label_en="Project")
    define(org, kind.kind, "site", type="url")
    define(org, kind.kind, "regions", type="multi_choice", choices=["华东经销", "Export"])
    define(org, kind.kind, "level", type="choice", choices=["一级", "二级"], filterable=True)
    define(org, kind.kind, "units", type="number")
    define(org, kind.kind, "codeword", sensitive=True)
    define(org, kind.kind, "board_note", see_roles=["manager"])
    for name, custom in (
        ("甲记录", {"project": "蓝鲸计划", "level": "一级"}),
        ("乙记录", {"regions": ["Export", "华东经销"], "level": "二级"}),
        ("丙记录", {"site": "https://pump.example.cn/kx", "units": 4242}),
        ("丁记录", {"codeword": "机密暗号"}),
        ("戊记录", {"board_note": "隐藏代号"}),
    ):
        record = kind.make(org, name)
        # stored as the services store them (JSON through the model field), without their
        # role rules: the rep may not write a field only managers see
        type(record).objects.filter(pk=record.pk).update(custom=custom)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed(client: Client, kind: Kind, query: dict[str, Any]) -> set[str]:
    """The test records (甲…戊记录) the list page shows for ``query``."""
    response = client.get(reverse(kind.page), query)
    assert response.status_code == 200
    page = response.content.decode()
    return {name for name in ("甲记录", "乙记录", "丙记录", "丁记录", "戊记录") if name in page}


def api_count(org: Organisation, kind: Kind, query: dict[str, Any]) -> int:
    response = api_client(getattr(org, kind.user)).get(kind.api, query)
    assert response.status_code == 200, response.content
    return int(response.json()["count"])


# --- search -------------------------------------------------------------------------------------


def test_search_q_reads_text_like_fields_the_user_sees(org: Organisation) -> None:
    for kind in ("lead", "ticket"):
        define(org, kind, "project")
        define(org, kind, "secret", sensitive=True)
        define(org, kind, "managers", see_roles=["manager"])
        define(org, kind, "units", type="number")
    assert custom_fields.search_q("lead", org.rep, "  ") is None
    # one condition per field read: the text one (not the sensitive, hidden or number ones)
    assert str(custom_fields.search_q("lead", org.rep, "x")).count("IContains") == 1
    assert str(custom_fields.search_q("lead", org.east_manager, "x")).count("IContains") == 2
    assert custom_fields.search_q("opportunity", org.rep, "x") is None


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_search_finds_custom_text_values(org: Organisation, kind: Kind) -> None:
    fields_and_records(org, kind)
    client = signed_in(getattr(org, kind.user))
    client.get(reverse(kind.page))
    assert listed(client, kind, {"q": "蓝鲸"}) == {"甲记录"}
    assert listed(client, kind, {"q": "华东经销"}) == {"乙记录"}  # an item of a multiple choice
    assert listed(client, kind, {"q": "export"}) == {"乙记录"}
    assert listed(client, kind, {"q": "pump.example"}) == {"丙记录"}  # a URL
    assert listed(client, kind, {"q": "二级"}) == {"乙记录"}  # a choice
    assert listed(client, kind, {"q": "4242"}) == set()  # a number is not text
    assert listed(client, kind, {"q": "机密暗号"}) == set()  # sensitive: never searched
    assert listed(client, kind, {"q": "隐藏代号"}) == set()  # a field the user may not see
    assert listed(client, kind, {"q": "甲记录"}) == {"甲记录"}  # the list's own fields still
    assert api_count(org, kind, {"q": "蓝鲸"}) == 1
    assert api_count(org, kind, {"q": "华东经销"}) == 1
    assert api_count(org, kind, {"q": "机密暗号"}) == 0
    assert api_count(org, kind, {"q": "隐藏代号"}) == 0


def test_a_manager_finds_by_a_field_only_managers_see(org: Organisation) -> None:
    kind = KINDS[1]  # deals: the rep's manager sees them
    fields_and_records(org, kind)
    manager = signed_in(org.east_manager)
    assert listed(manager, kind, {"q": "隐藏代号"}) == {"戊记录"}
    assert listed(manager, kind, {"q": "机密暗号"}) == set()


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_search_by_custom_values_adds_no_query(org: Organisation, kind: Kind) -> None:
    fields_and_records(org, kind)
    client = signed_in(getattr(org, kind.user))
    client.get(reverse(kind.page), {"q": "warm-up"})
    counts = []
    for text in ("甲记录", "蓝鲸"):  # a list field, a custom value: one row each
        with CaptureQueriesContext(connection) as queries:
            assert listed(client, kind, {"q": text}) == {"甲记录"}
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_board_searches_custom_values(org: Organisation) -> None:
    fields_and_records(org, KINDS[1])
    board = signed_in(org.rep).get(reverse("opportunities:board"), {"q": "蓝鲸"})
    assert "甲记录" in board.content.decode()
    assert "乙记录" not in board.content.decode()


# --- saved filters ------------------------------------------------------------------------------


def zh(message: str) -> str:
    with override("zh-hans"):
        return gettext(message)


@pytest.mark.parametrize("kind", [*KINDS, CONTACTS], ids=[*IDS, "contact"])
def test_saved_filter_with_a_custom_filter(org: Organisation, kind: Kind) -> None:
    fields_and_records(org, kind)
    user = getattr(org, kind.user)
    client = signed_in(user)
    page = reverse(kind.page)
    body = client.get(page).content.decode()
    assert 'id="saved-filters"' in body
    save = reverse("customers:filter_save_list", args=[kind.list_name])
    assert f'action="{save}"' in body

    query = "cf=level%3A%E4%B8%80%E7%BA%A7"  # cf=level:一级
    response = client.post(save, {"name": "一级的", "query": query, "back": page})
    assert response.status_code == 302
    assert response.url == f"{page}?{query}"
    saved = SavedFilter.objects.get(user=user)
    assert (saved.list_name, saved.query) == (kind.list_name, query)

    # the menu offers it on this list only, and picking it restores the custom filter
    body = client.get(page).content.decode()
    assert "一级的" in body
    assert f'href="{page}?{query}"' in body
    assert listed(client, kind, {"cf": "level:一级"}) == {"甲记录"}
    customers = client.get(reverse("customers:list")).content.decode()
    assert "一级的" not in customers
    other = signed_in(getattr(org, kind.other))
    assert "一级的" not in other.get(page).content.decode()

    # a second filter of the same name on this list is an error; another list may use it
    again = client.post(save, {"name": "一级的", "query": "q=x", "back": page}, follow=True)
    assert zh("You already have a saved filter of this name.") in again.content.decode()
    assert SavedFilter.objects.get(user=user).query == query
    client.post(reverse("customers:filter_save"), {"name": "一级的", "query": "status=intent"})
    assert SavedFilter.objects.filter(user=user, name="一级的").count() == 2

    # another user cannot delete it; its owner can, and goes back to the list
    delete = reverse("customers:filter_delete", args=[saved.pk])
    assert other.post(delete, {"back": page}).status_code == 404
    gone = client.post(delete, {"back": page})
    assert gone.status_code == 302
    assert gone.url == page
    assert not SavedFilter.objects.filter(pk=saved.pk).exists()


def test_deal_board_shares_the_deal_list_filters(org: Organisation) -> None:
    fields_and_records(org, KINDS[1])
    client = signed_in(org.rep)
    board = reverse("opportunities:board")
    save = reverse("customers:filter_save_list", args=["opportunities"])
    query = urlencode({"cf": "level:二级"})  # as the page's request.GET.urlencode writes it
    response = client.post(save, {"name": "二级", "query": query, "back": board})
    assert response.url == f"{board}?{query}"
    body = client.get(board).content.decode()
    assert f'href="{board}?{query}"' in body
    assert "二级" in client.get(reverse("opportunities:list")).content.decode()
    filtered = client.get(board, {"cf": "level:二级"}).content.decode()
    assert "乙记录" in filtered
    assert "甲记录" not in filtered


def test_a_bad_list_name_is_not_found(org: Organisation) -> None:
    client = signed_in(org.rep)
    response = client.post(
        reverse("customers:filter_save_list", args=["planets"]), {"name": "x", "query": ""}
    )
    assert response.status_code == 404
    assert not SavedFilter.objects.exists()


def test_back_must_be_a_page_of_this_site(org: Organisation) -> None:
    client = signed_in(org.rep)
    save = reverse("customers:filter_save_list", args=["leads"])
    response = client.post(save, {"name": "x", "query": "q=1", "back": "//evil.example/"})
    assert response.url == reverse("leads:list") + "?q=1"
