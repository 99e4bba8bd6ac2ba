"""Marketing reads customers, not their conversation (docs/permissions.md): it writes no
follow-up or task on them, reaches none of their follow-ups, attachments or tasks on any read
path, and sees the last activity and the counts instead."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.core.errors import Forbidden, NotFound
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.followups import selectors, services
from kehu.followups.models import Attachment, FollowUp, Task
from kehu.followups.tests.factories import make_customer
from kehu.followups.timeline import activity_item

pytestmark = pytest.mark.django_db

CONTENT = "客户说预算已批，下周签约"
NEW_NAME = "上海市场测试有限公司"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def logged(org: Organisation) -> Customer:
    """A rep's customer with a follow-up (and its attachment and next-step task)."""
    customer = make_customer(org.rep)
    services.followup_create(
        actor=org.rep,
        customer=customer,
        data={
            "method": "phone",
            "content": CONTENT,
            "next_step_on": timezone.localdate() + timedelta(days=1),
            "next_step_action": "发送合同",
            "attachments": [SimpleUploadedFile("纪要.pdf", b"%PDF-1.4 notes")],
        },
    )
    customer.refresh_from_db()
    return customer


def ui(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- writes ---------------------------------------------------------------------------------


def test_services_refuse_marketing_writes_on_a_customer(org: Organisation) -> None:
    customer = make_customer(org.rep)
    with pytest.raises(Forbidden):
        services.followup_create(
            actor=org.marketing, customer=customer, data={"method": "phone", "content": "x"}
        )
    with pytest.raises(Forbidden):
        services.task_create(
            actor=org.marketing,
            assignee=org.marketing,
            title="回访",
            due_at=timezone.now() + timedelta(days=1),
            customer=customer,
        )
    assert not FollowUp.objects.filter(customer=customer).exists()
    assert not Task.objects.filter(customer=customer, created_by=org.marketing).exists()
    assert not services.followup_may_create(org.marketing)
    assert not services.task_may_create(org.marketing, customer)
    assert services.task_may_create(org.marketing)  # a task of its own, on no customer
    assert services.followup_may_create(org.service)


def test_api_refuses_marketing_follow_ups_and_tasks(org: Organisation) -> None:
    customer = make_customer(org.rep)
    client = api_client(org.marketing)
    body = {"customer_id": customer.pk, "method": "phone", "content": "x"}
    answer = client.post("/api/v1/followups", body, content_type="application/json")
    assert answer.status_code == 403, answer.content
    assert answer.json()["code"] == "forbidden"
    due = (timezone.now() + timedelta(days=1)).isoformat()
    task = {"customer_id": customer.pk, "title": "回访", "due_at": due}
    assert client.post("/api/v1/tasks", task, content_type="application/json").status_code == 403
    assert not FollowUp.objects.filter(customer=customer).exists()
    assert not Task.objects.filter(created_by=org.marketing).exists()
    own = client.post(
        "/api/v1/tasks", {"title": "活动复盘", "due_at": due}, content_type="application/json"
    )
    assert own.status_code == 201, own.content


def test_ui_refuses_marketing_and_shows_no_form(org: Organisation) -> None:
    customer = make_customer(org.rep)
    client = ui(org.marketing)
    post = {"method": "phone", "content": "x", "occurred_at": "2026-01-05 10:00"}
    answer = client.post(reverse("followups:followup_log", args=[customer.pk]), post)
    assert answer.status_code == 403
    task = {"customer": customer.pk, "title": "回访", "due_at": "2030-01-05 10:00"}
    assert client.post(reverse("followups:task_new"), task).status_code == 403
    assert client.get(reverse("followups:task_new"), {"customer": customer.pk}).status_code == 403
    page = client.get(reverse("followups:customer_timeline", args=[customer.pk]))
    assert b'id="followup-form"' not in page.content
    assert not FollowUp.objects.filter(customer=customer).exists()


def test_marketing_opens_no_opportunities(org: Organisation) -> None:
    customer = make_customer(org.rep)
    body = {"customer_id": customer.pk, "name": "设备采购"}
    answer = api_client(org.marketing).post(
        "/api/v1/opportunities", body, content_type="application/json"
    )
    assert answer.status_code == 403, answer.content
    client = ui(org.marketing)
    assert client.get(reverse("opportunities:create")).status_code == 403
    assert b'id="new-opportunity"' not in client.get(reverse("opportunities:list")).content
    assert b'id="new-opportunity"' in ui(org.rep).get(reverse("opportunities:list")).content
    assert not customer.opportunities.exists()


# --- reads ----------------------------------------------------------------------------------


def test_marketing_reaches_no_follow_up_task_or_attachment(org: Organisation) -> None:
    customer = logged(org)
    followup = FollowUp.objects.get(customer=customer)
    task = Task.objects.get(followup=followup)
    attachment = Attachment.objects.get(followup=followup)
    for model in (FollowUp, Task, Attachment):
        assert not model.objects.visible_to(org.marketing).exists(), model
    client = api_client(org.marketing)
    assert client.get("/api/v1/followups").json()["items"] == []
    assert client.get(f"/api/v1/followups?customer={customer.pk}").json()["count"] == 0
    assert client.get("/api/v1/tasks").json()["items"] == []
    assert client.get(f"/api/v1/followups/{followup.pk}").status_code == 404
    assert client.get(f"/api/v1/tasks/{task.pk}").status_code == 404
    pages = ui(org.marketing)
    assert pages.get(reverse("followups:followup_detail", args=[followup.pk])).status_code == 404
    assert pages.get(reverse("followups:task_detail", args=[task.pk])).status_code == 404
    download = reverse("followups:attachment_download", args=[attachment.pk])
    assert pages.get(download).status_code == 404
    # the rep still reads all of it
    assert api_client(org.rep).get("/api/v1/followups").json()["count"] == 1


def test_marketing_keeps_the_tasks_assigned_to_it(org: Organisation) -> None:
    own = services.task_create(
        actor=org.marketing,
        assignee=org.marketing,
        title="活动复盘",
        due_at=timezone.now() + timedelta(hours=1),
    )
    items = api_client(org.marketing).get("/api/v1/tasks").json()["items"]
    assert [item["id"] for item in items] == [own.pk]
    counts = selectors.my_day(user=org.marketing).counts
    assert counts["today"] + counts["upcoming"] == 1


def test_marketing_sees_last_activity_and_counts(org: Organisation) -> None:
    customer = logged(org)
    activity = selectors.customer_activity(user=org.marketing, customer=customer)
    assert (activity.followups, activity.open_tasks) == (1, 2)  # next step + planned follow-up
    assert activity.last_activity_at == customer.last_contact_at is not None
    client = ui(org.marketing)
    page = client.get(reverse("followups:customer_timeline", args=[customer.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    for hidden in (CONTENT, "发送合同", "纪要.pdf"):
        assert hidden not in text
    assert 'id="activity-followups">1<' in text
    assert timezone.localtime(customer.last_contact_at).strftime("%Y-%m-%d %H:%M") in text
    tab = client.get(reverse("customers:tab", args=[customer.pk, "timeline"]))
    text = tab.content.decode()
    assert tab.status_code == 200
    assert CONTENT not in text
    assert activity_item(customer, org.marketing).title in text
    # the rep's timeline tab shows the follow-up itself
    rep_tab = ui(org.rep).get(reverse("customers:tab", args=[customer.pk, "timeline"]))
    assert CONTENT in rep_tab.content.decode()


def test_activity_of_a_customer_out_of_scope_is_not_found(org: Organisation) -> None:
    with pytest.raises(NotFound):
        selectors.customer_activity(user=org.colleague, customer=make_customer(org.rep))


def test_marketing_creates_no_customers(org: Organisation) -> None:
    with pytest.raises(Forbidden):
        customer_services.customer_create(
            actor=org.marketing, data={"name": "上海市场测试有限公司"}
        )
    answer = api_client(org.marketing).post(
        "/api/v1/customers", {"name": NEW_NAME}, content_type="application/json"
    )
    assert answer.status_code == 403, answer.content
    client = ui(org.marketing)
    assert client.get(reverse("customers:create")).status_code == 403
    assert b'id="new-customer"' not in client.get(reverse("customers:list")).content
    assert not Customer.objects.filter(name=NEW_NAME).exists()
