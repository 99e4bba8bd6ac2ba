"""The REST API: pools, claim/assign/release, duplicate check, reveal, offboarding."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from kehu.accounts.models import User
from kehu.core.errors import InvalidInput
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Customer
from kehu.pools import services as pool_services
from kehu.pools.models import Offboarding, PoolEntry, RevealLog
from kehu.pools.tests.factories import add_contact, make_customer, make_pool, pooled_customer

pytestmark = pytest.mark.django_db

VALID_CODE = "91110000600037341L"


def _post(client: Any, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, data or {}, content_type="application/json")


def test_pool_list_and_detail_show_limits_and_usage(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    east = make_pool(org.east, max_held_per_rep=3, max_claims_per_day=2)
    make_pool(org.south)
    for _ in range(5):
        pooled_customer(east)
    client = api_client(org.rep)
    with django_assert_max_num_queries(8):
        answer = client.get("/api/v1/pools").json()
    assert [p["id"] for p in answer["items"]] == [east.pk]
    detail = client.get(f"/api/v1/pools/{east.pk}").json()
    assert detail["usage"] == {
        "held": 0,
        "held_limit": 3,
        "claimed_today": 0,
        "daily_limit": 2,
        "can_claim": True,
    }
    assert detail["may_assign"] is False
    with django_assert_max_num_queries(8):
        customers = client.get(f"/api/v1/pools/{east.pk}/customers?limit=3").json()
    assert customers["count"] == 5
    assert len(customers["items"]) == 3


def test_non_member_gets_404_everywhere(org: Organisation) -> None:
    south = make_pool(org.south)
    customer = pooled_customer(south)
    client = api_client(org.rep)
    assert client.get(f"/api/v1/pools/{south.pk}").status_code == 404
    assert client.get(f"/api/v1/pools/{south.pk}/customers").status_code == 404
    answer = _post(client, f"/api/v1/pools/{south.pk}/customers/{customer.pk}/claim")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    customer.refresh_from_db()
    assert customer.owner is None


def test_claim_until_the_limit_refuses(org: Organisation) -> None:
    pool = make_pool(org.east, max_held_per_rep=2, max_claims_per_day=10)
    first, second, third = (pooled_customer(pool) for _ in range(3))
    client = api_client(org.rep)
    for customer in (first, second):
        answer = _post(client, f"/api/v1/pools/{pool.pk}/customers/{customer.pk}/claim")
        assert answer.status_code == 200
        assert answer.json()["owner_id"] == org.rep.pk
    refused = _post(client, f"/api/v1/pools/{pool.pk}/customers/{third.pk}/claim")
    assert refused.status_code == 409
    assert refused.json()["code"] == "held_limit"
    assert PoolEntry.objects.filter(customer=third).exists()


def test_release_and_assign(org: Organisation) -> None:
    pool = make_pool(org.east)
    customer = make_customer(org.rep)
    client = api_client(org.rep)
    missing_reason = _post(client, "/api/v1/pools/release", {"customer_id": customer.pk})
    assert missing_reason.status_code == 422
    released = _post(
        client, "/api/v1/pools/release", {"customer_id": customer.pk, "reason": "客户无预算"}
    )
    assert released.status_code == 200
    assert released.json()["pool_id"] == pool.pk
    manager = api_client(org.east_manager)
    assigned = _post(
        manager,
        f"/api/v1/pools/{pool.pk}/customers/{customer.pk}/assign",
        {"assignee_id": org.hangzhou_rep.pk},
    )
    assert assigned.status_code == 200
    assert assigned.json()["owner_id"] == org.hangzhou_rep.pk
    rep_assign = _post(
        client,
        f"/api/v1/pools/{pool.pk}/customers/{customer.pk}/assign",
        {"assignee_id": org.rep.pk},
    )
    assert rep_assign.status_code in (403, 404)


def test_admin_manages_pools(org: Organisation) -> None:
    admin = api_client(org.admin)
    created = _post(admin, "/api/v1/pools", {"name": "华南公海", "department_ids": [org.south.pk]})
    assert created.status_code == 201
    pool_id = created.json()["id"]
    bad = admin.patch(
        f"/api/v1/pools/{pool_id}", {"cooling_days": -1}, content_type="application/json"
    )
    assert bad.status_code == 422
    stale = admin.patch(
        f"/api/v1/pools/{pool_id}",
        {"cooling_days": 2, "version": 9},
        content_type="application/json",
    )
    assert stale.status_code == 409
    assert _post(api_client(org.rep), "/api/v1/pools", {"name": "x"}).status_code == 403


def test_duplicate_check_tells_status_not_contents(org: Organisation) -> None:
    pool = make_pool(org.east, name="华东公海")
    held = make_customer(org.south_rep, name="上海恒泰精工机械有限公司", credit_code=VALID_CODE)
    add_contact(held, mobile="+8613812341234", email="zhang.san@hengtai.cn")
    own = make_customer(org.rep, name="杭州博创科技有限公司")
    pooled = pooled_customer(pool, name="苏州嘉和贸易有限公司")
    client = api_client(org.rep)

    answer = client.get("/api/v1/duplicate-check", {"phone": "138 1234 1234"}).json()
    assert answer["exists"] is True
    [match] = answer["matches"]
    assert match["status"] == "held"
    assert match["owner_name"] == str(org.south_rep)
    assert match["visible"] is False
    assert match["number"] == ""
    assert match["name"] == ""
    assert match["customer_id"] is None
    assert held.number not in str(answer)

    by_code = _post(client, "/api/v1/duplicate-check", {"credit_code": VALID_CODE}).json()
    assert by_code["matches"][0]["reasons"] == ["credit_code"]

    mine = client.get("/api/v1/duplicate-check", {"name": own.name}).json()["matches"][0]
    assert mine["status"] == "own"
    assert mine["number"] == own.number
    in_pool = client.get("/api/v1/duplicate-check", {"name": pooled.name}).json()["matches"][0]
    assert in_pool["status"] == "pool"
    assert in_pool["pool_name"] == "华东公海"
    assert in_pool["customer_id"] == pooled.pk  # members of the pool may see it

    outsider = api_client(org.south_rep)
    hidden = outsider.get("/api/v1/duplicate-check", {"name": pooled.name}).json()["matches"][0]
    assert hidden["status"] == "pool"
    assert hidden["customer_id"] is None

    nothing = client.get("/api/v1/duplicate-check", {"name": "完全不同的名字有限公司"}).json()
    assert nothing == {"exists": False, "matches": []}


def test_duplicate_check_bad_input(org: Organisation) -> None:
    client = api_client(org.rep)
    bad_code = client.get(
        "/api/v1/duplicate-check", {"credit_code": "91110000600O37341L"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert bad_code.status_code == 422
    assert "position 12" in bad_code.json()["errors"]["credit_code"][0]
    assert client.get("/api/v1/duplicate-check").status_code == 422
    assert client.get("/api/v1/duplicate-check", {"phone": "12"}).status_code == 422
    assert client.get("/api/v1/duplicate-check", {"email": "x@"}).status_code == 422
    assert api_client_anonymous_status() == 401


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(("field", "length"), [("credit_code", 41), ("name", 201), ("phone", 41)])
def test_duplicate_check_oversized_values_are_field_errors(
    org: Organisation, method: str, field: str, length: int
) -> None:
    client = api_client(org.rep)
    data = {field: "1" * length}
    if method == "get":
        answer = client.get("/api/v1/duplicate-check", data)
    else:
        answer = _post(client, "/api/v1/duplicate-check", data)
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid"
    assert list(answer.json()["errors"]) == [field]


def test_pool_patch_refuses_null_for_a_not_null_column(org: Organisation) -> None:
    pool = make_pool(org.east, description="东区")
    admin = api_client(org.admin)
    for field in ("description", "name", "cooling_days", "is_active"):
        answer = admin.patch(
            f"/api/v1/pools/{pool.pk}", {field: None}, content_type="application/json"
        )
        assert answer.status_code == 422, field
        assert list(answer.json()["errors"]) == [field]
    pool.refresh_from_db()
    assert (pool.description, pool.version) == ("东区", 1)


def test_services_refuse_none_in_a_blank_not_null_column(org: Organisation) -> None:
    pool = make_pool(org.east, description="东区")
    with pytest.raises(InvalidInput) as refused:
        pool_services.pool_update(actor=org.admin, pool=pool, changes={"description": None})
    assert list(refused.value.errors) == ["description"]
    pool.refresh_from_db()
    assert pool.description == "东区"


def api_client_anonymous_status() -> int:
    from django.test import Client

    return int(Client().get("/api/v1/duplicate-check", {"name": "x"}).status_code)


def test_reveal_contact_logs_reveals_of_masked_values_only(org: Organisation) -> None:
    customer = make_customer(org.rep)
    contact = add_contact(customer, mobile="+8613812341234", email="zhang.san@corp.cn")
    shared_with = org.colleague
    customer.shares.create(user=shared_with, can_edit=False, shared_by=org.rep)
    url = f"/api/v1/pools/reveal/contact/{contact.pk}"
    shown = _post(api_client(org.rep), url)
    assert shown.status_code == 200
    assert (shown.json()["mobile"], shown.json()["logged"]) == ("+8613812341234", False)
    assert _post(api_client(org.east_manager), url).json()["logged"] is False
    assert RevealLog.objects.count() == 0
    assert _post(api_client(shared_with), url).json()["email"] == "zhang.san@corp.cn"
    assert RevealLog.objects.filter(user=shared_with, contact=contact).count() == 1
    assert _post(api_client(org.south_rep), url).status_code == 404
    assert RevealLog.objects.count() == 1


def _make_records(org: Organisation, user: User) -> dict[str, list[Any]]:
    customers = [make_customer(user) for _ in range(3)]
    records: dict[str, list[Any]] = {"customers": customers}
    if apps.is_installed("kehu.leads"):
        lead = apps.get_model("leads", "Lead")
        records["leads"] = [
            lead.objects.create(
                contact_name="王五",
                priority="A",
                source="website",
                assignee=user,
                status="assigned",
            ),
            lead.objects.create(
                contact_name="赵六", priority="B", source="website", assignee=user, status="closed"
            ),
        ]
    if apps.is_installed("kehu.opportunities"):
        opportunity = apps.get_model("opportunities", "Opportunity")
        stage = apps.get_model("opportunities", "Stage").objects.filter(kind="open").first()
        records["opportunities"] = [
            opportunity.objects.create(
                customer=customers[1], name="设备采购", owner=user, stage=stage
            )
        ]
    if apps.is_installed("kehu.followups"):
        task = apps.get_model("followups", "Task")
        due = timezone.now() + timedelta(days=1)
        records["tasks"] = [
            task.objects.create(title="回访", assignee=user, customer=customers[2], due_at=due),
            task.objects.create(title="已完成", assignee=user, due_at=due, status="done"),
        ]
    return records


def test_offboarding_preview_then_apply(org: Organisation) -> None:
    records = _make_records(org, org.rep)
    admin = api_client(org.admin)
    body = {"user_id": org.rep.pk, "successor_ids": [org.colleague.pk, org.hangzhou_rep.pk]}
    preview = _post(admin, "/api/v1/offboarding/preview", body)
    assert preview.status_code == 200
    counts = {row["kind"]: row for row in preview.json()["counts"]}
    assert counts["customers"]["total"] == 3
    assert [c["count"] for c in counts["customers"]["per_successor"]] == [2, 1]
    if "leads" in records:
        assert counts["leads"]["total"] == 1  # closed leads stay
    if "tasks" in records:
        assert counts["tasks"]["total"] == 1  # only open tasks
    assert Customer.objects.filter(owner=org.rep).count() == 3  # preview changes nothing

    applied = _post(admin, "/api/v1/offboarding", {**body, "note": "张三离职"})
    assert applied.status_code == 201
    org.rep.refresh_from_db()
    assert org.rep.is_active is False
    assert not Customer.objects.filter(owner=org.rep).exists()
    first, second, third = (Customer.objects.get(pk=c.pk) for c in records["customers"])
    assert [first.owner, second.owner, third.owner] == [
        org.colleague,
        org.hangzhou_rep,
        org.colleague,
    ]
    assert second.department == org.hangzhou
    assert first.history.first().history_change_reason == "离职交接"
    if "opportunities" in records:
        moved = records["opportunities"][0]
        moved.refresh_from_db()
        assert moved.owner == second.owner  # follows its customer
    if "tasks" in records:
        open_task, done_task = records["tasks"]
        open_task.refresh_from_db()
        done_task.refresh_from_db()
        assert open_task.assignee == third.owner
        assert done_task.assignee == org.rep
    record = Offboarding.objects.get()
    assert record.summary["counts"][0]["total"] == 3
    if apps.is_installed("kehu.notifications"):
        notification = apps.get_model("notifications", "Notification")
        received = notification.objects.filter(kind="pools.handover")
        assert {n.recipient_id for n in received} == {org.colleague.pk, org.hangzhou_rep.pk}
        assert first.name in received.get(recipient=org.colleague).body


def test_offboarding_to_a_pool_and_split(org: Organisation) -> None:
    pool = make_pool(org.east)
    records = _make_records(org, org.rep)
    admin = api_client(org.admin)
    body: dict[str, Any] = {
        "user_id": org.rep.pk,
        "mode": "split",
        "pool_id": pool.pk,
        "split": {kind: org.colleague.pk for kind in records if kind != "customers"},
    }
    answer = _post(admin, "/api/v1/offboarding", body)
    assert answer.status_code == 201, answer.json()
    assert PoolEntry.objects.filter(pool=pool).count() == 3
    assert not Customer.objects.filter(
        owner__isnull=False, pk__in=[c.pk for c in records["customers"]]
    ).exists()


def test_offboarding_refuses_a_deactivated_successor_and_changes_nothing(org: Organisation) -> None:
    records = _make_records(org, org.rep)
    org.colleague.is_active = False
    org.colleague.save()
    admin = api_client(org.admin)
    answer = _post(
        admin, "/api/v1/offboarding", {"user_id": org.rep.pk, "successor_ids": [org.colleague.pk]}
    )
    assert answer.status_code == 422
    assert str(org.colleague) in answer.json()["errors"]["successors"][0]
    org.rep.refresh_from_db()
    assert org.rep.is_active is True
    assert Customer.objects.filter(owner=org.rep).count() == len(records["customers"])
    assert not Offboarding.objects.exists()


def test_offboarding_needs_successors_and_admin(org: Organisation) -> None:
    _make_records(org, org.rep)
    admin = api_client(org.admin)
    assert _post(admin, "/api/v1/offboarding/preview", {"user_id": org.rep.pk}).status_code == 422
    manager = api_client(org.east_manager)
    body = {"user_id": org.rep.pk, "successor_ids": [org.colleague.pk]}
    assert _post(manager, "/api/v1/offboarding", body).status_code == 403
    assert manager.get("/api/v1/offboarding").status_code == 403


def test_credit_code_endpoint(org: Organisation) -> None:
    client = api_client(org.rep)
    good = client.get("/api/v1/pools/credit-code", {"code": "91310115MA1FL0000K"}).json()
    assert good["valid"] is True
    assert good["region_code"] == "310115"
    assert "浦东" in good["region_name"]
    bad = client.get(
        "/api/v1/pools/credit-code", {"code": "91310115MA1FL0000O"}, HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    assert bad["valid"] is False
    assert "position 18" in bad["message"]
    assert bad["region_code"] is None
