"""Masked contact data: who sees 138****1234, the audited "show" (查看), and the reveal log."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from kehu.core import config
from kehu.core.masking import contact_values, mask_email, mask_mobile, mask_wechat
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.customers.tests.factories import make_customer
from kehu.pools.models import RevealLog

pytestmark = pytest.mark.django_db

MOBILE = "13812341234"
FULL_MOBILE = "+8613812341234"
EMAIL = "zhang.san@corp.cn"
WECHAT = "zhangsan_wx88"


def _customer(org: Organisation, **extra: Any) -> Customer:
    contact = {"name": "张三", "mobile": MOBILE, "email": EMAIL, "wechat": WECHAT}
    customer = make_customer(org.rep, contacts=[{**contact, "is_primary": True}], **extra)
    customer.shares.create(user=org.colleague, can_edit=True, shared_by=org.rep)
    return customer


def _contact(customer: Customer) -> Contact:
    return customer.contacts.get()


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Any, url: str) -> Any:
    return client.post(url, {}, content_type="application/json")


def test_masking_functions() -> None:
    assert mask_mobile(FULL_MOBILE) == "138****1234"
    assert mask_mobile("+862161234567") == "021****4567"
    assert mask_email(EMAIL) == "zh***@corp.cn"
    assert mask_wechat(WECHAT) == "zh***8"
    assert mask_wechat("ab") == "a***"
    contact = Contact(mobile=FULL_MOBILE, work_phone="", email=EMAIL, wechat=WECHAT)
    assert contact_values(contact, masked=True) == {
        "mobile": "138****1234",
        "work_phone": "",
        "email": "zh***@corp.cn",
        "wechat": "zh***8",
    }
    assert contact_values(contact, masked=False)["mobile"] == FULL_MOBILE


# --- API --------------------------------------------------------------------------------------


def test_api_masks_contacts_for_sharee_and_marketing(org: Organisation) -> None:
    customer = _customer(org)
    contact = _contact(customer)
    for user in (org.colleague, org.marketing):
        client = api_client(user)
        detail = client.get(f"/api/v1/customers/{customer.pk}").json()
        listed = client.get("/api/v1/contacts", {"customer_id": customer.pk}).json()["items"]
        one = client.get(f"/api/v1/contacts/{contact.pk}").json()
        for shown in (detail["contacts"][0], listed[0], one):
            assert shown["mobile"] == "138****1234"
            assert shown["email"] == "zh***@corp.cn"
            assert shown["wechat"] == "zh***8"
            assert shown["masked"] is True
        history = client.get(f"/api/v1/customers/{customer.pk}/history").content.decode()
        assert MOBILE not in history


def test_api_shows_full_values_to_owner_manager_and_admin(org: Organisation) -> None:
    customer = _customer(org)
    for user in (org.rep, org.east_manager, org.admin):
        client = api_client(user)
        shown = client.get(f"/api/v1/customers/{customer.pk}").json()["contacts"][0]
        assert (shown["mobile"], shown["email"], shown["masked"]) == (FULL_MOBILE, EMAIL, False)
        one = client.get(f"/api/v1/contacts/{_contact(customer).pk}").json()
        assert one["wechat"] == WECHAT


def test_search_by_phone_digits_finds_the_customer_without_leaking_the_number(
    org: Organisation,
) -> None:
    customer = _customer(org)
    client = api_client(org.marketing)
    found = client.get("/api/v1/customers", {"q": "138 1234 1234"})
    assert [item["id"] for item in found.json()["items"]] == [customer.pk]
    assert MOBILE not in found.content.decode()
    contacts = client.get("/api/v1/contacts", {"q": "13812341234"})
    assert [item["mobile"] for item in contacts.json()["items"]] == ["138****1234"]
    assert MOBILE not in contacts.content.decode()


def test_contact_writes_answer_masked_for_a_sharee_who_may_edit(org: Organisation) -> None:
    customer = _customer(org)
    contact = _contact(customer)
    response = api_client(org.colleague).patch(
        f"/api/v1/contacts/{contact.pk}",
        json.dumps({"version": contact.version, "title": "采购经理"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["title"] == "采购经理"
    assert response.json()["mobile"] == "138****1234"


def test_history_diffs_of_contact_numbers_are_masked(org: Organisation) -> None:
    customer = _customer(org)
    contact = _contact(customer)
    customer_services.contact_update(
        actor=org.rep, contact=contact, changes={"mobile": "13998765432"}, version=None
    )
    changes = [
        change
        for entry in api_client(org.colleague)
        .get(f"/api/v1/customers/{customer.pk}/history")
        .json()
        for change in entry["changes"]
    ]
    assert {"old": "138****1234", "new": "139****5432"} in [
        {"old": c["old"], "new": c["new"]} for c in changes
    ]
    owner_view = api_client(org.rep).get(f"/api/v1/customers/{customer.pk}/history").json()
    assert any(c["new"] == "+8613998765432" for e in owner_view for c in e["changes"])


def test_contact_list_api_queries_stay_bounded_when_masking(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        _customer(org)
    client = api_client(org.colleague)
    client.get("/api/v1/contacts", {"limit": 1})
    with django_assert_max_num_queries(8) as few:
        assert len(client.get("/api/v1/contacts", {"limit": 2}).json()["items"]) == 2
    queries = len(few.captured_queries)
    for _ in range(8):
        _customer(org)
    with django_assert_max_num_queries(queries):
        items = client.get("/api/v1/contacts", {"limit": 20}).json()["items"]
    assert len(items) == 11
    assert {item["mobile"] for item in items} == {"138****1234"}


# --- Pages ------------------------------------------------------------------------------------


def test_pages_mask_for_sharee_and_marketing_and_offer_show_to_permitted_roles(
    org: Organisation,
) -> None:
    customer = _customer(org)
    for user, may_show in ((org.colleague, True), (org.marketing, False)):
        client = _client(user)
        detail = client.get(f"/customers/{customer.pk}/").content.decode()
        assert "138****1234" in detail
        assert "zh***@corp.cn" in detail
        assert "138 1234 1234" not in detail
        assert EMAIL not in detail
        assert ("reveal-button" in detail) is may_show
        listed = client.get("/customers/", {"q": MOBILE}).content.decode()
        assert customer.name in listed
        assert "138****1234" in listed
        assert "138 1234 1234" not in listed


def test_pages_show_full_values_to_the_owner_and_manager(org: Organisation) -> None:
    customer = _customer(org)
    for user in (org.rep, org.east_manager):
        detail = _client(user).get(f"/customers/{customer.pk}/").content.decode()
        assert "+86 138 1234 1234" in detail
        assert EMAIL in detail
        assert "reveal-button" not in detail
        assert "138****1234" not in detail


def test_contact_edit_form_leaves_masked_fields_out(org: Organisation) -> None:
    customer = _customer(org)
    contact = _contact(customer)
    client = _client(org.colleague)
    page = client.get(f"/customers/contacts/{contact.pk}/edit/").content.decode()
    assert 'name="mobile"' not in page
    assert MOBILE not in page
    response = client.post(
        f"/customers/contacts/{contact.pk}/edit/",
        {"name": "张三", "title": "总监", "version": contact.version},
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.title, contact.mobile, contact.email) == ("总监", FULL_MOBILE, EMAIL)
    assert (
        'name="mobile"'
        in _client(org.rep).get(f"/customers/contacts/{contact.pk}/edit/").content.decode()
    )


# --- Show (查看) ------------------------------------------------------------------------------


def test_sharee_reveals_and_it_is_logged(org: Organisation) -> None:
    customer = _customer(org)
    contact = _contact(customer)
    response = _post(api_client(org.colleague), f"/api/v1/pools/reveal/contact/{contact.pk}")
    assert response.status_code == 200
    body = response.json()
    assert (body["mobile"], body["email"], body["wechat"]) == (FULL_MOBILE, EMAIL, WECHAT)
    assert body["logged"] is True
    assert body["remaining_today"] == 49
    log = RevealLog.objects.get()
    assert (log.user, log.contact, log.customer) == (org.colleague, contact, customer)
    assert log.fields == "mobile,email,wechat"
    assert log.request_id


def test_reveal_refused_for_marketing_out_of_scope_and_unneeded_for_owner(
    org: Organisation,
) -> None:
    contact = _contact(_customer(org))
    url = f"/api/v1/pools/reveal/contact/{contact.pk}"
    refused = _post(api_client(org.marketing), url)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert _post(api_client(org.south_rep), url).status_code == 404
    owner = _post(api_client(org.rep), url).json()
    assert (owner["mobile"], owner["logged"]) == (FULL_MOBILE, False)
    assert RevealLog.objects.count() == 0
    config.put("customers.contact_reveal_roles", ["sales", "marketing"])
    assert _post(api_client(org.marketing), url).status_code == 200


def test_daily_reveal_limit(org: Organisation) -> None:
    config.put("customers.contact_reveal_daily_limit", 2)
    contacts = [_contact(_customer(org)) for _ in range(3)]
    client = api_client(org.colleague)
    for contact in contacts[:2]:
        assert _post(client, f"/api/v1/pools/reveal/contact/{contact.pk}").status_code == 200
    again = _post(client, f"/api/v1/pools/reveal/contact/{contacts[0].pk}")
    assert again.status_code == 200  # the same contact again does not use up the limit
    refused = _post(client, f"/api/v1/pools/reveal/contact/{contacts[2].pk}")
    assert refused.status_code == 429
    assert refused.json()["code"] == "quota_exceeded"
    assert "2" in refused.json()["detail"]
    assert RevealLog.objects.count() == 3
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        tomorrow = _post(client, f"/api/v1/pools/reveal/contact/{contacts[2].pk}")
        assert tomorrow.status_code == 200


def test_show_button_swaps_in_the_full_values(org: Organisation) -> None:
    contact = _contact(_customer(org))
    url = f"/pools/reveal/contact/{contact.pk}/"
    shown = _client(org.colleague).post(url, HTTP_HX_REQUEST="true").content.decode()
    assert f'id="contact-{contact.pk}-mobile" hx-swap-oob="true"' in shown
    assert "+86 138 1234 1234" in shown
    assert EMAIL in shown
    refused = _client(org.marketing).post(url, HTTP_HX_REQUEST="true").content.decode()
    assert "reveal-refused" in refused
    assert MOBILE not in refused
    assert _client(org.south_rep).post(url).status_code == 404
    assert RevealLog.objects.filter(user=org.colleague).count() == 1


# --- Reveal log -------------------------------------------------------------------------------


def _reveal(user: Any, contact: Contact) -> None:
    assert _post(api_client(user), f"/api/v1/pools/reveal/contact/{contact.pk}").status_code == 200


def test_reveal_log_api_is_scoped_and_filtered(org: Organisation) -> None:
    east = _contact(_customer(org))
    south_customer = make_customer(
        org.south_rep, contacts=[{"name": "李四", "mobile": "13900001111"}]
    )
    south_customer.shares.create(user=org.service, shared_by=org.south_rep)
    south = south_customer.contacts.get()
    _reveal(org.colleague, east)
    _reveal(org.colleague, east)
    _reveal(org.service, south)

    admin = api_client(org.admin).get("/api/v1/pools/reveals").json()
    assert admin["count"] == 3
    assert {item["contact_name"] for item in admin["items"]} == {"张三", "李四"}
    manager = api_client(org.east_manager).get("/api/v1/pools/reveals").json()
    assert manager["count"] == 2
    assert {item["user_id"] for item in manager["items"]} == {org.colleague.pk}
    assert manager["items"][0]["fields"] == ["mobile", "email", "wechat"]
    south_view = api_client(org.south_manager).get("/api/v1/pools/reveals").json()
    assert [item["user_id"] for item in south_view["items"]] == [org.service.pk]
    by_user = api_client(org.admin).get("/api/v1/pools/reveals", {"user_id": org.service.pk})
    assert by_user.json()["count"] == 1
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    later = api_client(org.admin).get("/api/v1/pools/reveals", {"date_from": tomorrow})
    assert later.json() == {"count": 0, "count_capped": False, "items": []}
    assert api_client(org.rep).get("/api/v1/pools/reveals").status_code == 403


def test_reveal_log_page(org: Organisation, django_assert_max_num_queries: Any) -> None:
    contact = _contact(_customer(org))
    _reveal(org.colleague, contact)
    client = _client(org.admin)
    client.get("/pools/reveals/")
    with django_assert_max_num_queries(12) as few:
        page = client.get("/pools/reveals/", {"user": org.colleague.pk}).content.decode()
    assert "张三" in page
    assert "colleague" in page
    queries = len(few.captured_queries)  # read now: later requests reset the query log
    for _ in range(5):
        _reveal(org.colleague, _contact(_customer(org)))
    with django_assert_max_num_queries(queries):
        page = client.get("/pools/reveals/").content.decode()
    assert page.count("data-reveal=") == 6
    assert _client(org.rep).get("/pools/reveals/").status_code == 403
    assert "reveals-link" in _client(org.east_manager).get("/pools/").content.decode()


# --- Pools ------------------------------------------------------------------------------------


def test_pool_members_see_the_primary_contact_masked(org: Organisation) -> None:
    from kehu.pools.tests.factories import add_contact, make_pool, pooled_customer

    pool = make_pool(org.east, name="华东公海")
    customer = pooled_customer(pool)
    contact = add_contact(customer, mobile=FULL_MOBILE, email=EMAIL, is_primary=True)
    page = _client(org.rep).get(f"/pools/{pool.pk}/").content.decode()
    assert f'id="contact-{contact.pk}-mobile"' in page
    assert "138****1234" in page
    assert "138 1234 1234" not in page
    assert "reveal-button" in page
    rows = api_client(org.rep).get(f"/api/v1/pools/{pool.pk}/customers").json()["items"]
    assert (rows[0]["contact_name"], rows[0]["contact_mobile"]) == ("张三", "138****1234")
    admin = api_client(org.admin).get(f"/api/v1/pools/{pool.pk}/customers").json()["items"]
    assert admin[0]["contact_mobile"] == FULL_MOBILE
    _reveal(org.rep, contact)
    assert RevealLog.objects.get().user == org.rep
