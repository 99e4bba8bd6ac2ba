from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services
from kehu.customers.models import Contact, Customer
from kehu.customers.tests.factories import VALID_USCC, make_customer

pytestmark = pytest.mark.django_db
BASE = "/api/v1/customers"


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def patch(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def test_create_with_contacts_then_get_list_and_search(org: Organisation) -> None:
    client = api_client(org.rep)
    response = post(
        client,
        BASE,
        {
            "name": "上海科技发展有限公司",
            "industry": "I",
            "region": "310101",
            "source": "trade_show",
            "source_detail": "展会-2024年3月上海行业展-展位A12",
            "annual_budget": "200000",
            "to_verify": ["address"],
            "contacts": [{"name": "王伟", "title": "采购经理", "mobile": "13812345678"}],
            "tags": ["高意向客户"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == "I-SH-001"
    assert body["owner_id"] == org.rep.pk
    assert body["contacts"][0]["mobile"] == "+8613812345678"
    assert body["tags"] == ["高意向客户"]
    assert body["grade"] == "B"
    assert body["completeness"] > 50
    for q in ("上海科技", "shanghai", "shkj", "I-SH-001", "王伟", "1234 5678", "13812345678"):
        found = client.get(BASE, {"q": q}).json()
        assert found["count"] == 1, q
    assert client.get(BASE, {"q": "beijing"}).json()["count"] == 0
    assert client.get(f"{BASE}/{body['id']}").json()["name"] == "上海科技发展有限公司"


def test_filters_and_sorting(org: Organisation) -> None:
    a = make_customer(org.rep, name="甲公司", source="referral", priority="S", tags=["重点客户"])
    b = make_customer(org.rep, name="乙公司", industry="34", region="330100")
    services.customer_change_status(actor=org.rep, customer=b, status="intent")
    client = api_client(org.rep)

    def ids(**params: Any) -> list[int]:
        response = client.get(BASE, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["items"]]

    assert ids(status="intent") == [b.pk]
    assert ids(source="referral") == [a.pk]
    assert ids(priority="S") == [a.pk]
    # a section or a province matches its divisions or cities, a division or city itself
    assert ids(industry="C") == [b.pk]
    assert ids(industry="34") == [b.pk]
    assert ids(industry="35") == []
    assert ids(region="330000") == [b.pk]
    assert ids(region="330100") == [b.pk]
    assert ids(region="310000") == []
    assert ids(tags=[a.tags.get().pk]) == [a.pk]
    assert ids(owner=org.rep.pk, sort="name") == sorted(
        [a.pk, b.pk], key=lambda pk: Customer.objects.get(pk=pk).name
    )
    assert ids(sort="-updated") == [b.pk, a.pk]  # b's status changed last
    assert ids(sort="updated") == [a.pk, b.pk]
    assert ids(department=org.east.pk) == [b.pk, a.pk]
    assert ids(grade="D") == [b.pk, a.pk]
    assert ids(sort="grade") == [b.pk, a.pk]  # both D: the newest first
    # the grade sort reads the grade the list shows: a manual grade before the computed one
    services.customer_set_grade(actor=org.east_manager, customer=a, grade="A", reason="战略客户")
    assert ids(sort="grade") == [a.pk, b.pk]
    assert ids(grade="A") == [a.pk]
    assert ids(grade="D") == [b.pk]
    assert client.get(BASE, {"status": "nope"}).status_code == 422
    assert client.get(BASE, {"sort": "password"}).status_code == 422
    assert client.get(BASE, {"limit": 501}).status_code == 422


def test_list_is_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    for index in range(12):
        make_customer(
            org.rep,
            tags=["重点客户", f"标签{index}"],
            contacts=[{"name": "王伟", "mobile": f"1381234{index:04d}"}],
        )
    client = api_client(org.rep)
    client.get(BASE, {"limit": 1})  # warm up token auth caches
    with django_assert_max_num_queries(8) as small:
        assert len(client.get(BASE, {"limit": 2}).json()["items"]) == 2
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get(BASE, {"limit": 12}).json()["items"]) == 12


def test_scope_other_rep_gets_404_and_nothing_changes(org: Organisation) -> None:
    customer = make_customer(org.rep)
    other = api_client(org.colleague)
    assert other.get(f"{BASE}/{customer.pk}").status_code == 404
    response = patch(other, f"{BASE}/{customer.pk}", {"version": 1, "notes": "hijack"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert post(other, f"{BASE}/{customer.pk}/status", {"status": "won"}).status_code == 404
    assert other.get(BASE).json()["count"] == 0
    customer.refresh_from_db()
    assert customer.notes == ""
    assert customer.status == "potential"


def test_patch_with_stale_version_is_409(org: Organisation) -> None:
    customer = make_customer(org.rep)
    client = api_client(org.rep)
    ok = patch(client, f"{BASE}/{customer.pk}", {"version": 1, "address": "上海"})
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = patch(client, f"{BASE}/{customer.pk}", {"version": 1, "address": "北京"})
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    customer.refresh_from_db()
    assert customer.address == "上海"


def test_patch_with_an_invalid_tag_saves_nothing(org: Organisation) -> None:
    customer = make_customer(org.rep, tags=["老客户"])
    client = api_client(org.rep)
    body = {"version": 1, "address": "上海", "tags": ["新客户", "标" * 51]}
    response = patch(client, f"{BASE}/{customer.pk}", body)
    assert response.status_code == 422, response.content
    assert list(response.json()["errors"]) == ["tags"]
    customer.refresh_from_db()
    assert (customer.address, customer.version) == ("", 1)
    assert list(customer.tags.values_list("name", flat=True)) == ["老客户"]
    assert customer.history.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "甲", "industry": "QQ"}, "industry"),
        ({"name": "甲", "region": "123"}, "region"),
        ({"name": "甲", "credit_code": "91310000MA1FL0000X"}, "credit_code"),
        ({"name": "甲" * 201}, "name"),
        ({"name": "甲", "initial_need": "需" * 5001}, "initial_need"),
        ({"name": "甲", "contacts": [{"name": "王", "mobile": "555"}]}, "mobile"),
        ({"name": "甲", "contacts": [{"name": "王", "email": "no-at-sign"}]}, "email"),
    ],
)
def test_bad_input_is_422_with_field_errors(
    org: Organisation, body: dict[str, Any], field: str
) -> None:
    response = post(api_client(org.rep), BASE, body)
    assert response.status_code == 422, response.content
    assert any(field in key for key in response.json()["errors"])
    assert not Customer.objects.exists()


def test_duplicate_is_409_unless_forced(org: Organisation) -> None:
    make_customer(org.rep, name="杭州恒泰精密制造有限公司", credit_code=VALID_USCC[1])
    client = api_client(org.rep)
    response = post(client, BASE, {"name": "杭州恒泰精密制造股份有限公司"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "duplicate"
    assert body["detail"]
    assert body["matches"][0]["visible"] is True
    assert body["matches"][0]["reason"] == "name"
    hidden = post(api_client(org.south_rep), BASE, {"name": "杭州恒泰精密制造有限公司"}).json()
    assert hidden["matches"][0]["visible"] is False
    assert "name" not in hidden["matches"][0]
    assert hidden["matches"][0]["owner_name"] == str(org.rep)
    forced = post(client, BASE, {"name": "杭州恒泰精密制造股份有限公司", "force": True})
    assert forced.status_code == 201


def test_script_tags_are_stored_as_text(org: Organisation) -> None:
    client = api_client(org.rep)
    response = post(client, BASE, {"name": "<script>alert(1)</script>有限公司"})
    assert response.status_code == 201
    assert response.json()["name"] == "<script>alert(1)</script>有限公司"


def test_sensitive_fields_are_masked(org: Organisation) -> None:
    customer = make_customer(org.rep, annual_budget="300000", cooperation_history="2023年合作")
    services.customer_share(actor=org.rep, customer=customer, user=org.colleague)
    owner_view = api_client(org.rep).get(f"{BASE}/{customer.pk}").json()
    assert (
        owner_view["annual_budget"] == "300000.00" or float(owner_view["annual_budget"]) == 300000
    )
    assert api_client(org.east_manager).get(f"{BASE}/{customer.pk}").json()["cooperation_history"]
    for user in (org.colleague, org.marketing):
        data = api_client(user).get(f"{BASE}/{customer.pk}").json()
        assert data["annual_budget"] is None
        assert data["cooperation_history"] is None
        listed = api_client(user).get(BASE).json()["items"][0]
        assert listed["annual_budget"] is None


def test_delete_is_admin_only(org: Organisation) -> None:
    customer = make_customer(org.rep)
    assert api_client(org.rep).delete(f"{BASE}/{customer.pk}").status_code == 403
    assert api_client(org.east_manager).delete(f"{BASE}/{customer.pk}").status_code == 403
    assert api_client(org.colleague).delete(f"{BASE}/{customer.pk}").status_code == 404
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert api_client(org.admin).delete(f"{BASE}/{customer.pk}").status_code == 204
    assert not Customer.objects.filter(pk=customer.pk).exists()


def test_actions_status_reassign_share_verify_grade_history(org: Organisation) -> None:
    customer = make_customer(org.rep)
    rep = api_client(org.rep)
    manager = api_client(org.east_manager)
    url = f"{BASE}/{customer.pk}"
    assert (
        post(rep, f"{url}/status", {"status": "intent", "reason": "有预算"}).json()["status"]
        == "intent"
    )
    assert post(rep, f"{url}/status", {"status": "bogus"}).status_code == 422
    assert (
        post(rep, f"{url}/reassign", {"owner_id": org.colleague.pk, "reason": "x"}).status_code
        == 403
    )
    moved = post(manager, f"{url}/reassign", {"owner_id": org.colleague.pk, "reason": "休假"})
    assert moved.status_code == 200
    assert moved.json()["owner_id"] == org.colleague.pk
    assert rep.get(url).status_code == 404
    colleague = api_client(org.colleague)
    shares = post(colleague, f"{url}/share", {"user_id": org.rep.pk, "can_edit": False})
    assert shares.json() == [{"user_id": org.rep.pk, "can_edit": False}]
    assert rep.get(url).status_code == 200
    assert patch(rep, url, {"version": 3, "notes": "x"}).status_code == 403
    verified = post(colleague, f"{url}/verify", {"via": "phone"})
    assert verified.json()["verified_via"] == "phone"
    assert post(colleague, f"{url}/verify", {"via": "fax"}).status_code == 422
    graded = post(colleague, f"{url}/grade", {"grade": "A", "reason": "战略"})
    assert graded.json()["effective_grade"] == "A"
    history = colleague.get(f"{url}/history").json()
    reasons = [entry["reason"] for entry in history]
    assert "休假" in reasons


def test_merge_via_api(org: Organisation) -> None:
    survivor = make_customer(org.rep, contacts=[{"name": "甲"}])
    merged = make_customer(org.colleague, contacts=[{"name": "乙"}])
    url = f"{BASE}/{survivor.pk}/merge"
    assert post(api_client(org.rep), url, {"merged_id": merged.pk}).status_code == 404
    response = post(api_client(org.east_manager), url, {"merged_id": merged.pk, "reason": "重复"})
    assert response.status_code == 200
    assert len(response.json()["contacts"]) == 2
    assert not Customer.objects.filter(pk=merged.pk).exists()


def test_contacts_api(org: Organisation) -> None:
    customer = make_customer(org.rep)
    client = api_client(org.rep)
    created = post(
        client,
        "/api/v1/contacts",
        {"customer_id": customer.pk, "name": "赵敏", "work_phone": "021-68881234"},
    )
    assert created.status_code == 201
    contact_id = created.json()["id"]
    assert created.json()["work_phone"] == "+862168881234"
    bad = post(client, "/api/v1/contacts", {"customer_id": customer.pk, "name": "x", "email": "@"})
    assert bad.status_code == 422
    assert client.get("/api/v1/contacts", {"q": "赵"}).json()["count"] == 1
    assert client.get("/api/v1/contacts", {"q": "6888"}).json()["count"] == 1
    updated = patch(client, f"/api/v1/contacts/{contact_id}", {"version": 1, "title": "采购经理"})
    assert updated.json()["title"] == "采购经理"
    # the form of address the campaigns' 称呼 uses (王先生 / 李女士)
    addressed = patch(client, f"/api/v1/contacts/{contact_id}", {"version": 2, "gender": "f"})
    assert addressed.json()["gender"] == "f"
    wrong = patch(client, f"/api/v1/contacts/{contact_id}", {"version": 3, "gender": "x"})
    assert wrong.status_code == 422
    assert "gender" in wrong.json()["errors"]
    stale = patch(client, f"/api/v1/contacts/{contact_id}", {"version": 1, "title": "x"})
    assert stale.status_code == 409
    other = api_client(org.colleague)
    assert other.get(f"/api/v1/contacts/{contact_id}").status_code == 404
    assert post(other, f"/api/v1/contacts/{contact_id}/deactivate", {}).status_code == 404
    left = post(client, f"/api/v1/contacts/{contact_id}/deactivate", {"reason": "离职"})
    assert left.json()["is_active"] is False
    assert Contact.objects.filter(pk=contact_id).exists()
    history = client.get(f"{BASE}/{customer.pk}/history").json()
    assert any("赵敏" in entry["object_label"] for entry in history)


def test_openapi_documents_the_customer_endpoints(org: Organisation) -> None:
    response = api_client(org.rep).get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/customers" in paths
    assert "/api/v1/customers/{customer_id}/merge" in paths
    assert "/api/v1/contacts/{contact_id}/deactivate" in paths
    parameters = {p["name"] for p in paths["/api/v1/customers"]["get"]["parameters"]}
    assert {"q", "status", "tags", "stale", "limit", "offset"} <= parameters
