from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.testing.factories import Organisation, api_client
from kehu.core.testing.openapi import api_schema_names, response_errors
from kehu.customers.services import customer_share
from kehu.followups import selectors, services
from kehu.followups.models import FollowUp, Task, TaskKind
from kehu.followups.tests.factories import make_customer

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 1, 15, 0, tzinfo=SHANGHAI)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_log_follow_up_and_list_tasks(org: Organisation) -> None:
    customer = make_customer(org.rep)
    client = api_client(org.rep)
    response = post(
        client,
        "/api/v1/followups",
        {
            "customer_id": customer.pk,
            "method": "visit",
            "content": "上门拜访，演示产品",
            "sentiment": "positive",
            "sentiment_reason": "对方案满意",
            "next_step_on": "2026-06-03",
            "next_step_action": "提交报价",
            "verified": True,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["method"] == "visit"
    assert body["verified"] is True
    tasks = client.get("/api/v1/tasks?mine=true&kind=next_step").json()
    assert tasks["count"] == 1
    assert tasks["items"][0]["title"] == "提交报价"
    listing = client.get(f"/api/v1/followups?customer={customer.pk}").json()
    assert listing["count"] == 1


def test_bad_follow_up_is_422_and_saves_nothing(org: Organisation) -> None:
    customer = make_customer(org.rep)
    client = api_client(org.rep)
    response = post(
        client,
        "/api/v1/followups",
        {
            "customer_id": customer.pk,
            "method": "phone",
            "content": "x",
            "occurred_at": (NOW + timedelta(days=1)).isoformat(),
            "next_step_on": "2026-05-01",
            "next_step_action": "回访",
        },
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"occurred_at", "next_step_on"}
    assert not FollowUp.objects.exists()
    assert not Task.objects.exists()


def test_attachment_checks_over_multipart(org: Organisation, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    customer = make_customer(org.rep)
    client = api_client(org.rep)
    form = {"customer_id": customer.pk, "method": "email", "content": "邮件往来"}
    bad = client.post(
        "/api/v1/followups/with-attachments",
        {**form, "attachments": [SimpleUploadedFile("run.sh", b"rm -rf /")]},
    )
    assert bad.status_code == 422
    assert "attachments" in bad.json()["errors"]
    assert not FollowUp.objects.exists()
    good = client.post(
        "/api/v1/followups/with-attachments",
        {**form, "attachments": [SimpleUploadedFile("邮件截图.png", b"\x89PNG....")]},
    )
    assert good.status_code == 201, good.content
    assert good.json()["attachments"][0]["name"] == "邮件截图.png"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("截图.png", b"<html><script>alert(1)</script></html>"),
        ("截图.png", b"\xef\xbb\xbf  <!DOCTYPE html><p>"),
        ("纪要.pdf", b"<svg onload=alert(1)>"),
        ("名单.csv", b"<script>alert(1)</script>"),
        ("纪要.txt", b"\n<html>"),
    ],
)
def test_attachment_content_must_match_its_extension(
    org: Organisation, settings: Any, tmp_path: Any, name: str, content: bytes
) -> None:
    settings.MEDIA_ROOT = tmp_path
    customer = make_customer(org.rep)
    form = {"customer_id": customer.pk, "method": "email", "content": "邮件往来"}
    answer = api_client(org.rep).post(
        "/api/v1/followups/with-attachments",
        {**form, "attachments": [SimpleUploadedFile(name, content, content_type="image/png")]},
    )
    assert answer.status_code == 422, answer.content
    assert "attachments" in answer.json()["errors"]
    assert not FollowUp.objects.exists()


def test_scope_other_reps_records_are_404(org: Organisation) -> None:
    mine = make_customer(org.rep)
    theirs = make_customer(org.south_rep)
    followup = services.followup_create(
        actor=org.south_rep, customer=theirs, data={"method": "phone", "content": "沟通"}
    )
    task = services.task_create(actor=None, assignee=org.south_rep, title="私有任务", due_at=NOW)
    client = api_client(org.rep)
    assert client.get(f"/api/v1/followups/{followup.pk}").status_code == 404
    assert client.get(f"/api/v1/tasks/{task.pk}").status_code == 404
    assert post(client, f"/api/v1/tasks/{task.pk}/complete", {}).status_code == 404
    response = post(
        client, "/api/v1/followups", {"customer_id": theirs.pk, "method": "phone", "content": "x"}
    )
    assert response.status_code == 404
    assert client.get("/api/v1/followups").json()["count"] == 0
    # the manager above sees the team's records; the other region's manager does not
    services.followup_create(
        actor=org.rep, customer=mine, data={"method": "phone", "content": "沟通"}
    )
    assert api_client(org.east_manager).get("/api/v1/followups").json()["count"] == 1
    assert api_client(org.south_manager).get("/api/v1/followups").json()["count"] == 1
    assert api_client(org.admin).get("/api/v1/followups").json()["count"] == 2


def test_tasks_are_seen_through_their_customer_or_assignee(org: Organisation) -> None:
    own, shared, foreign = (make_customer(user) for user in (org.rep, org.colleague, org.south_rep))
    customer_share(actor=org.colleague, customer=shared, user=org.rep)
    titles = {"我的客户": own, "共享客户": shared, "外区客户": foreign}
    for title, customer in titles.items():
        services.task_create(
            actor=None, assignee=customer.owner, title=title, due_at=NOW, customer=customer
        )
    services.task_create(
        actor=None, assignee=org.rep, title="指派给我", due_at=NOW, customer=foreign
    )
    listing = api_client(org.rep).get("/api/v1/tasks?limit=50").json()
    assert {item["title"] for item in listing["items"]} == {"我的客户", "共享客户", "指派给我"}
    assert listing["count"] == 3
    # the manager above: the team's customers, and whatever is assigned to a team member
    listing = api_client(org.east_manager).get("/api/v1/tasks?limit=50").json()
    assert {item["title"] for item in listing["items"]} == {"我的客户", "共享客户", "指派给我"}
    if connection.vendor != "postgresql":
        return
    # Each task's customer is looked up as the page reaches it; PostgreSQL must not be free
    # to hash every customer of the rep first (ExistsPerRow): 142 ms for 50 tasks at size L.
    page = selectors.task_list(user=org.rep).values("id")[:50]
    sql, params = page.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "SubPlan" in plan
    assert "hashed SubPlan" not in plan


def test_task_count_is_capped_by_own_tasks_alone(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kehu.core.pagination.COUNT_CAP", 3)
    shared = make_customer(org.colleague)
    services.task_create(
        actor=None, assignee=org.colleague, title="共享", due_at=NOW, customer=shared
    )
    customer_share(actor=org.colleague, customer=shared, user=org.rep)
    for index in range(2):
        services.task_create(actor=None, assignee=org.rep, title=f"自己{index}", due_at=NOW)
    client = api_client(org.rep)
    page = client.get("/api/v1/tasks?limit=2").json()
    assert (page["count"], page["count_capped"]) == (3, False)  # 2 own + 1 shared: counted
    for index in range(2, 4):
        services.task_create(actor=None, assignee=org.rep, title=f"自己{index}", due_at=NOW)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/api/v1/tasks?limit=2").json()
    assert (page["count"], page["count_capped"]) == (3, True)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1  # the own tasks passed the cap; the whole scope was not counted
    assert "customers_customer" not in counts[0]


def test_task_lifecycle_and_stale_version(org: Organisation) -> None:
    client = api_client(org.rep)
    created = post(
        client,
        "/api/v1/tasks",
        {"title": "准备方案", "due_at": (NOW + timedelta(days=1)).isoformat()},
    )
    assert created.status_code == 201
    task = created.json()
    patched = client.patch(
        f"/api/v1/tasks/{task['id']}",
        json.dumps({"version": task["version"], "priority": "high"}),
        content_type="application/json",
    )
    assert patched.json()["priority"] == "high"
    stale = client.patch(
        f"/api/v1/tasks/{task['id']}",
        json.dumps({"version": task["version"], "title": "旧版本"}),
        content_type="application/json",
    )
    assert stale.status_code == 409
    past = post(
        client,
        f"/api/v1/tasks/{task['id']}/snooze",
        {"until": (NOW - timedelta(hours=1)).isoformat()},
    )
    assert past.status_code == 422
    snoozed = post(
        client,
        f"/api/v1/tasks/{task['id']}/snooze",
        {"until": (NOW + timedelta(days=2)).isoformat()},
    )
    assert snoozed.status_code == 200
    done = post(client, f"/api/v1/tasks/{task['id']}/complete", {})
    assert done.json()["status"] == "done"
    again = post(client, f"/api/v1/tasks/{task['id']}/complete", {})
    assert again.status_code == 422


def test_task_list_is_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    for index in range(15):
        customer = make_customer(org.rep)
        services.task_create(
            actor=None,
            assignee=org.rep,
            title=f"任务{index}",
            due_at=NOW,
            customer=customer,
            kind=TaskKind.MANUAL,
        )
        services.followup_create(
            actor=org.rep,
            customer=customer,
            # each row shows its record's type: read with the page, not per row
            data={"method": "phone", "content": "沟通", "related": customer},
        )
    client = api_client(org.rep)
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/tasks").json()["count"] >= 15
    with django_assert_max_num_queries(8):
        listing = client.get("/api/v1/followups").json()
    assert listing["count"] == 15
    assert {item["related_type"] for item in listing["items"]} == {"customers.customer"}


def test_list_rows_equal_the_detail(org: Organisation, settings: Any, tmp_path: Any) -> None:
    # The lists read plain rows (selectors.followup_rows, task_rows) and skip the response
    # schema; each row must read exactly as its detail, which goes through the schema.
    settings.MEDIA_ROOT = tmp_path
    customer = make_customer(org.rep)
    client = api_client(org.rep)
    late = services.followup_create(
        actor=org.rep,
        customer=customer,
        data={
            "method": "visit",
            "content": "上门拜访",
            "occurred_at": NOW - timedelta(days=1),
            "related": customer,
            "next_step_on": "2026-06-03",
            "next_step_action": "提交报价",
            "attachments": [
                SimpleUploadedFile("纪要.pdf", b"%PDF-1.4 ..."),
                SimpleUploadedFile("照片.png", b"\x89PNG...."),
            ],
        },
    )
    services.followup_create(
        actor=org.rep, customer=customer, data={"method": "phone", "content": "电话沟通"}
    )
    overdue = services.task_create(
        actor=None, assignee=org.rep, title="逾期任务", due_at=NOW - timedelta(hours=3)
    )
    snoozed = services.task_create(
        actor=None,
        assignee=org.rep,
        title="已推迟",
        due_at=NOW - timedelta(hours=1),
        related=customer,
        customer=customer,
    )
    services.task_snooze(actor=org.rep, task_id=snoozed.pk, until=NOW + timedelta(days=1))
    done = services.task_create(
        actor=None, assignee=org.rep, title="已完成", due_at=NOW - timedelta(days=2)
    )
    services.task_complete(actor=org.rep, task_id=done.pk)

    followups = client.get("/api/v1/followups").json()["items"]
    assert len(followups) == 2
    for item in followups:
        assert item == client.get(f"/api/v1/followups/{item['id']}").json()
    row = next(item for item in followups if item["id"] == late.pk)
    assert row["recorded_late"] is True
    assert row["related_type"] == "customers.customer"
    assert [file["name"] for file in row["attachments"]] == ["纪要.pdf", "照片.png"]

    tasks = client.get("/api/v1/tasks?mine=true").json()["items"]
    assert {task["id"] for task in tasks} >= {overdue.pk, snoozed.pk, done.pk}
    for item in tasks:
        assert item == client.get(f"/api/v1/tasks/{item['id']}").json()
    overdue_of = {task["id"]: task["is_overdue"] for task in tasks}
    assert (overdue_of[overdue.pk], overdue_of[snoozed.pk], overdue_of[done.pk]) == (
        True,
        False,
        False,
    )


def test_list_filters_narrow_and_answer_a_bad_value_per_field(org: Organisation) -> None:
    mine, theirs = make_customer(org.rep), make_customer(org.rep)
    for customer, content in ((mine, "报价已发"), (theirs, "初次沟通")):
        services.followup_create(
            actor=org.rep, customer=customer, data={"method": "phone", "content": content}
        )
    client = api_client(org.rep)
    assert client.get("/api/v1/followups", {"q": "报价"}).json()["count"] == 1
    assert client.get("/api/v1/followups", {"customer": theirs.pk}).json()["count"] == 1
    bad = client.get("/api/v1/tasks", {"due_from": "soon"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422
    body = bad.json()
    assert (body["detail"], body["code"], list(body["errors"])) == (
        "The input is not valid.",
        "invalid",
        ["due_from"],
    )


def test_selectors_take_the_typed_filters_the_api_reads(org: Organisation) -> None:
    customer = make_customer(org.rep)
    services.task_create(
        actor=org.rep,
        assignee=org.rep,
        title="回访",
        due_at=NOW + timedelta(days=1),
        customer=customer,
    )
    services.task_create(actor=org.rep, assignee=org.rep, title="整理", due_at=NOW)
    by_customer = selectors.TaskFilters(customer=customer.pk, status="open")
    assert [t.title for t in selectors.task_list(user=org.rep, filters=by_customer)] == ["回访"]
    query = selectors.TaskFilters.from_querydict({"mine": "true", "q": "整理"})
    assert [t.title for t in selectors.task_list(user=org.rep, filters=query)] == ["整理"]
    assert query.is_active()
    assert not selectors.FollowUpFilters().is_active()


def test_follow_up_responses_match_their_openapi_schema(
    org: Organisation, settings: Any, tmp_path: Any
) -> None:
    # The attachment items were read against opportunities' AttachmentOut (kind, created_at):
    # OpenAPI keys schemas by class name, and both apps had one of that name.
    settings.MEDIA_ROOT = tmp_path
    customer = make_customer(org.rep)
    client = api_client(org.rep)
    created = client.post(
        "/api/v1/followups/with-attachments",
        {
            "customer_id": customer.pk,
            "method": "phone",
            "content": "电话沟通",
            "attachments": [SimpleUploadedFile("纪要.pdf", b"%PDF-1.4 ...")],
        },
    )
    assert created.status_code == 201
    path = "/api/v1/followups/with-attachments"
    assert response_errors("post", path, 201, created.json()) == []
    detail = client.get(f"/api/v1/followups/{created.json()['id']}").json()
    assert detail["attachments"][0]["name"] == "纪要.pdf"
    assert response_errors("get", "/api/v1/followups/{followup_id}", 200, detail) == []
    page = client.get("/api/v1/followups").json()
    assert response_errors("get", "/api/v1/followups", 200, page) == []


def test_api_schema_class_names_are_unique() -> None:
    assert {name: at for name, at in api_schema_names().items() if len(at) > 1} == {}
