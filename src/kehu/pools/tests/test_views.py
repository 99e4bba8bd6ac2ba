"""The UI pages: pools, claim, assign, release, warnings, duplicate check, offboarding."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.testing.factories import Organisation
from kehu.customers.models import Customer
from kehu.pools.models import Offboarding, Pool, PoolEntry
from kehu.pools.tests.factories import make_customer, make_pool, pooled_customer

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_menu_entries_resolve() -> None:
    assert reverse("pools:list") == "/pools/"
    assert reverse("pools:duplicate_check") == "/pools/duplicate-check/"
    assert reverse("pools:offboarding") == "/pools/offboarding/"


def test_pool_pages_show_limits_and_claim(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    pool = make_pool(org.east, name="华东公海", max_held_per_rep=1)
    customers = [pooled_customer(pool) for _ in range(3)]
    client = _client(org.rep)
    page = client.get("/pools/")
    assert page.status_code == 200
    assert "华东公海" in page.content.decode()
    with django_assert_max_num_queries(20):
        detail = client.get(f"/pools/{pool.pk}/")
    assert detail.status_code == 200
    assert customers[0].name in detail.content.decode()
    answer = client.post(f"/pools/{pool.pk}/customers/{customers[0].pk}/claim/", follow=True)
    assert "You claimed" in answer.content.decode()
    refused = client.post(f"/pools/{pool.pk}/customers/{customers[1].pk}/claim/", follow=True)
    assert "the most this pool allows" in refused.content.decode()
    assert Customer.objects.filter(owner=org.rep).count() == 1


def test_other_pools_answer_404(org: Organisation) -> None:
    pool = make_pool(org.south)
    customer = pooled_customer(pool)
    client = _client(org.rep)
    assert client.get(f"/pools/{pool.pk}/").status_code == 404
    answer = client.post(f"/pools/{pool.pk}/customers/{customer.pk}/claim/")
    assert answer.status_code == 404
    customer.refresh_from_db()
    assert customer.owner is None


def test_manager_assigns_from_the_page(org: Organisation) -> None:
    pool = make_pool(org.east)
    customer = pooled_customer(pool)
    client = _client(org.east_manager)
    detail = client.get(f"/pools/{pool.pk}/").content.decode()
    assert str(org.hangzhou_rep) in detail
    client.post(
        f"/pools/{pool.pk}/customers/{customer.pk}/assign/", {"assignee": org.hangzhou_rep.pk}
    )
    customer.refresh_from_db()
    assert customer.owner == org.hangzhou_rep


def test_release_page(org: Organisation) -> None:
    pool = make_pool(org.east)
    customer = make_customer(org.rep)
    client = _client(org.rep)
    assert client.get(f"/pools/release/{customer.pk}/").status_code == 200
    assert client.post(f"/pools/release/{customer.pk}/", {"reason": ""}).status_code == 422
    bad_pool = client.post(f"/pools/release/{customer.pk}/", {"reason": "x", "pool": "abc"})
    assert bad_pool.status_code == 422  # not a pool on offer: a form error, nothing released
    assert not PoolEntry.objects.filter(customer=customer).exists()
    answer = client.post(f"/pools/release/{customer.pk}/", {"reason": "暂无需求"})
    assert answer.status_code == 302
    assert PoolEntry.objects.get(customer=customer).pool == pool
    detail = client.get(f"/pools/{pool.pk}/").content.decode()
    assert "You may claim it back after" in detail
    assert (
        "You may claim it back"
        not in _client(org.colleague).get(f"/pools/{pool.pk}/").content.decode()
    )
    other = make_customer(org.colleague)
    assert client.get(f"/pools/release/{other.pk}/").status_code == 404


def test_duplicate_check_page(org: Organisation) -> None:
    make_customer(org.south_rep, name="上海恒泰精工机械有限公司")
    client = _client(org.rep)
    empty = client.get("/pools/duplicate-check/")
    assert empty.status_code == 200
    found = client.get("/pools/duplicate-check/", {"name": "上海恒泰精工机械有限公司"})
    body = found.content.decode()
    assert "Held by" in body
    assert str(org.south_rep) in body
    bad = client.get("/pools/duplicate-check/", {"credit_code": "91110000600O37341L"})
    assert bad.status_code == 422
    assert "position 12" in bad.content.decode()


def test_offboarding_page_previews_then_applies(org: Organisation) -> None:
    for _ in range(2):
        make_customer(org.rep)
    client = _client(org.admin)
    assert client.get("/pools/offboarding/").status_code == 200
    data = {"user": org.rep.pk, "successors": [org.colleague.pk], "mode": "round_robin"}
    preview = client.post("/pools/offboarding/", {**data, "action": "preview"})
    assert preview.status_code == 200
    assert 'id="offboarding-preview"' in preview.content.decode()
    assert Customer.objects.filter(owner=org.rep).count() == 2
    applied = client.post("/pools/offboarding/", {**data, "action": "apply"})
    assert applied.status_code == 302
    assert Customer.objects.filter(owner=org.colleague).count() == 2
    assert Offboarding.objects.count() == 1


def test_offboarding_page_refuses_deactivated_successor(org: Organisation) -> None:
    make_customer(org.rep)
    org.colleague.is_active = False
    org.colleague.save()
    client = _client(org.admin)
    data = {"user": org.rep.pk, "successors": [org.colleague.pk], "action": "apply"}
    answer = client.post("/pools/offboarding/", {**data, "mode": "round_robin"})
    assert answer.status_code == 422
    assert "deactivated" in answer.content.decode()
    assert Customer.objects.filter(owner=org.rep).count() == 1


def test_offboarding_and_pool_settings_are_admin_only(org: Organisation) -> None:
    client = _client(org.east_manager)
    assert client.get("/pools/offboarding/").status_code == 404
    assert client.get("/pools/new/").status_code == 404


def test_admin_creates_a_pool(org: Organisation) -> None:
    client = _client(org.admin)
    answer = client.post(
        "/pools/new/",
        {
            "name": "华南公海",
            "departments": [org.south.pk],
            "max_held_per_rep": 20,
            "max_claims_per_day": 3,
            "recycle_no_followup_days": 30,
            "recycle_no_deal_days": 90,
            "warn_days_before": 3,
            "cooling_days": 7,
            "is_active": "on",
        },
    )
    assert answer.status_code == 302
    pool = Pool.objects.get(name="华南公海")
    assert list(pool.departments.all()) == [org.south]
    bad = client.post(f"/pools/{pool.pk}/edit/", {"name": "", "max_held_per_rep": -1})
    assert bad.status_code == 422


def test_dashboard_panel_lists_warnings(org: Organisation) -> None:
    client = _client(org.rep)
    answer = client.get("/")
    assert 'id="pools-panel"' in answer.content.decode()


def test_warnings_page(org: Organisation) -> None:
    assert _client(org.rep).get("/pools/warnings/").status_code == 200


@pytest.mark.parametrize("url", ["/pools/{pool}/", "/pools/", "/pools/warnings/"])
def test_pages_take_a_fixed_number_of_queries(org: Organisation, url: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    pool = make_pool(org.east)
    client = _client(org.east_manager)
    client.get(url.format(pool=pool.pk))  # what a process reads once (custom-field definitions)
    counts = []
    for size in (2, 20):
        for _ in range(size):
            pooled_customer(pool)
            make_customer(org.east_manager)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url.format(pool=pool.pk)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[1] <= 20


def test_admin_puts_a_customer_into_the_pool_by_number(org: Organisation) -> None:
    pool = make_pool(org.east)
    customer = make_customer(org.rep)
    admin = _client(org.admin)
    assert 'id="put-form"' in admin.get(f"/pools/{pool.pk}/").content.decode()
    missing = admin.post(f"/pools/{pool.pk}/put/", {"number": "NOPE", "reason": "x"}, follow=True)
    assert "No customer has the number" in missing.content.decode()
    no_reason = admin.post(f"/pools/{pool.pk}/put/", {"number": customer.number}, follow=True)
    assert "Give a reason" in no_reason.content.decode()
    admin.post(f"/pools/{pool.pk}/put/", {"number": customer.number, "reason": "重新分配"})
    assert PoolEntry.objects.get(customer=customer).pool == pool
    assert _client(org.east_manager).post(f"/pools/{pool.pk}/put/", {}).status_code == 403
