from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.core import config
from kehu.core.errors import InvalidInput, NotFound
from kehu.core.testing.factories import Organisation
from kehu.followups import services
from kehu.followups.models import Attachment, FollowUp, Task, TaskKind, TaskStatus
from kehu.followups.tests.factories import make_contact, make_customer
from kehu.notifications.models import Notification

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=SHANGHAI)

pytestmark = pytest.mark.django_db


def followup_data(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "occurred_at": NOW - timedelta(minutes=30),
        "method": "phone",
        "content": "电话沟通需求，客户关注售后响应时间",
        "sentiment": "positive",
        "sentiment_reason": "预算已批",
    }
    data.update(extra)
    return data


@time_machine.travel(NOW, tick=False)
def test_task_create_is_idempotent_per_open_dedupe_key(org: Organisation) -> None:
    due = NOW + timedelta(days=1)
    first = services.task_create(
        actor=org.east_manager, assignee=org.rep, title="回访", due_at=due, dedupe_key="k1"
    )
    again = services.task_create(
        actor=org.east_manager, assignee=org.rep, title="回访", due_at=due, dedupe_key="k1"
    )
    assert first.pk == again.pk
    assert Task.objects.count() == 1
    # the assignee was told once
    assert Notification.objects.filter(recipient=org.rep, kind="task_assigned").count() == 1
    services.task_complete(actor=org.rep, task_id=first.pk)
    third = services.task_create(
        actor=None, assignee=org.rep, title="回访", due_at=due, dedupe_key="k1"
    )
    assert third.pk != first.pk


def test_task_create_rejects_bad_input(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as error:
        services.task_create(actor=None, assignee=org.rep, title=" ", due_at="tomorrow")
    assert set(error.value.errors) == {"title", "due_at"}
    assert not Task.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_followup_with_next_step_creates_task_records_contact_and_verifies(
    org: Organisation,
) -> None:
    customer = make_customer(org.rep)
    contact = make_contact(customer)
    followup = services.followup_create(
        actor=org.rep,
        customer=customer,
        data=followup_data(
            contact=contact.pk,
            next_step_on=date(2026, 3, 12),
            next_step_action="发送方案报价",
            verified=True,
        ),
    )
    customer.refresh_from_db()
    assert customer.last_contact_at == NOW - timedelta(minutes=30)
    assert customer.first_contact_at == NOW - timedelta(minutes=30)
    assert customer.verified_at == NOW - timedelta(minutes=30)
    assert customer.verified_via == "phone"
    task = Task.objects.get(kind=TaskKind.NEXT_STEP)
    assert task.assignee == org.rep
    assert task.followup == followup
    assert task.due_at == datetime(2026, 3, 12, 10, 0, tzinfo=SHANGHAI)
    # the cadence plan (potential: weekly) keeps one open planned follow-up
    cadence = Task.objects.get(kind=TaskKind.CADENCE, status=TaskStatus.OPEN)
    assert cadence.due_at == datetime(2026, 3, 17, 10, 0, tzinfo=SHANGHAI)


@time_machine.travel(NOW, tick=False)
def test_followup_bad_input_saves_nothing(org: Organisation) -> None:
    customer = make_customer(org.rep)
    cases: list[tuple[dict[str, Any], str]] = [
        (followup_data(occurred_at=NOW + timedelta(hours=3)), "occurred_at"),
        (followup_data(next_step_on=date(2026, 3, 9), next_step_action="回访"), "next_step_on"),
        (followup_data(method="carrier pigeon"), "method"),
        (followup_data(sentiment="negative", sentiment_reason=""), "sentiment_reason"),
        (
            followup_data(attachments=[SimpleUploadedFile("virus.exe", b"MZ...")]),
            "attachments",
        ),
    ]
    config.put("followups.attachment_max_mb", 1)
    big = SimpleUploadedFile("photo.jpg", b"x" * (1024 * 1024 + 1), content_type="image/jpeg")
    cases.append((followup_data(attachments=[big]), "attachments"))
    for data, field in cases:
        with pytest.raises(InvalidInput) as error:
            services.followup_create(actor=org.rep, customer=customer, data=data)
        assert field in error.value.errors, (field, error.value.errors)
    assert not FollowUp.objects.exists()
    assert not Attachment.objects.exists()
    assert not Task.objects.exists()
    customer.refresh_from_db()
    assert customer.last_contact_at is None


@time_machine.travel(NOW, tick=False)
def test_followup_for_another_author_only_by_admins_and_their_managers(
    org: Organisation,
) -> None:
    customer = make_customer(org.rep)
    with pytest.raises(InvalidInput) as error:
        services.followup_create(
            actor=org.rep, customer=customer, data=followup_data(author=org.colleague)
        )
    assert "author" in error.value.errors
    with pytest.raises(InvalidInput):
        services.followup_create(
            actor=org.east_manager, customer=customer, data=followup_data(author=org.south_rep.pk)
        )
    logged = services.followup_create(
        actor=org.east_manager,
        customer=customer,
        data=followup_data(author=org.rep, next_step_on=date(2026, 3, 12), next_step_action="回访"),
    )
    assert logged.author == org.rep
    assert logged.next_step_owner == org.rep
    assert Task.objects.get(kind=TaskKind.NEXT_STEP).assignee == org.rep
    assert logged.history.get().history_user == org.east_manager


@time_machine.travel(NOW, tick=False)
def test_followup_out_of_scope_is_not_found(org: Organisation) -> None:
    customer = make_customer(org.south_rep)
    with pytest.raises(NotFound):
        services.followup_create(actor=org.rep, customer=customer, data=followup_data())


@time_machine.travel(NOW, tick=False)
def test_followup_with_small_attachment(org: Organisation, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    customer = make_customer(org.rep)
    photo = SimpleUploadedFile("拜访照片.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")
    followup = services.followup_create(
        actor=org.rep, customer=customer, data=followup_data(method="visit", attachments=[photo])
    )
    attachment = followup.attachments.get()
    assert attachment.name == "拜访照片.jpg"
    assert attachment.size == 103


@time_machine.travel(NOW, tick=False)
def test_read_only_share_cannot_mark_verified(org: Organisation) -> None:
    from kehu.customers.models import CustomerShare

    customer = make_customer(org.south_rep)
    CustomerShare.objects.create(customer=customer, user=org.rep, can_edit=False)
    with pytest.raises(InvalidInput) as error:
        services.followup_create(
            actor=org.rep, customer=customer, data=followup_data(verified=True)
        )
    assert "verified" in error.value.errors
    assert not FollowUp.objects.exists()
    followup = services.followup_create(actor=org.rep, customer=customer, data=followup_data())
    assert followup.author == org.rep
