"""Who may reach each follow-up, attachment and task URL and API operation (the three-way
table of ``kehu.core.testing.permissions``).

A follow-up is seen exactly where its customer is (上海组's rep's customer: the rep, their
manager, admin), except by marketing: it reads every customer, but not the conversation, so
the follow-ups, attachments and tasks of the rep's customer are out of its scope (404) and it
logs none on them (403); its customer timeline shows the figures only. A task is seen where
its customer is or by its assignee, and worked where its customer is edited or by its assignee.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.followups import services
from kehu.followups.models import EmailTemplate, SentEmail
from kehu.followups.tests.factories import make_customer
from kehu.followups.tests.test_plans_permissions import TABLE as RULES_TABLE

# The database is set up before the first case (an anonymous case needs none, and asking for
# it from inside a case came too late when this module ran alone).
pytestmark = pytest.mark.django_db

VIEWERS = ("rep", "east_manager")
OTHERS = ("colleague", "south_manager", "marketing")
WORKERS = ("rep", "east_manager")
# marketing sees the customer, so a write on it is refused, not out of scope
CREATE: Roles = {"may": WORKERS, "may_not": ("marketing",), "out_of_scope": OTHERS[:2]}


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def customer(org: Organisation) -> dict[str, Any]:
    return {"customer_id": make_customer(org.rep).pk}


def customer_row(org: Organisation) -> dict[str, Any]:
    return {"_customer": make_customer(org.rep)}


def followup_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"customer_id": made["_customer"].pk, "method": "phone", "content": "电话沟通需求"}


def task_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"customer_id": made["_customer"].pk, "title": "回访", "due_at": TOMORROW}


def followup(org: Organisation) -> dict[str, Any]:
    row = services.followup_create(
        actor=org.rep,
        customer=make_customer(org.rep),
        data={
            "method": "phone",
            "content": "电话沟通需求",
            "attachments": [
                SimpleUploadedFile("纪要.pdf", b"%PDF-1.4 notes", content_type="application/pdf")
            ],
        },
    )
    return {"followup_id": row.pk, "_followup": row}


def attachment(org: Organisation) -> dict[str, Any]:
    return {"attachment_id": followup(org)["_followup"].attachments.get().pk}


def task(org: Organisation) -> dict[str, Any]:
    row = services.task_create(
        actor=org.rep,
        assignee=org.rep,
        title="回访报价",
        due_at=timezone.now() + timedelta(days=1),
        customer=make_customer(org.rep),
    )
    return {"task_id": row.pk, "_task": row}


def sent_email(org: Organisation) -> dict[str, Any]:
    row = followup(org)["_followup"]
    email = SentEmail.objects.create(
        followup=row,
        customer=row.customer,
        to_address="wang@example.com",
        subject="感谢您的时间",
        body="王经理您好",
        sent_by=org.rep,
    )
    return {"email_id": email.pk}


def email_template(org: Organisation) -> dict[str, Any]:
    return {"template_id": EmailTemplate.objects.get(name="首次沟通跟进邮件").pk}


def task_action(action: str) -> Any:
    return lambda org: {**task(org), "action": action}


def versioned(**fields: Any) -> Any:
    def body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
        return {"version": made["_task"].version, **fields}

    return body


TOMORROW = (timezone.now() + timedelta(days=2)).isoformat()
WORK: Roles = {"may": WORKERS, "out_of_scope": OTHERS}

TABLE = [
    # --- API ---
    Endpoint("GET /followups/{followup_id}", followup, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint("GET /tasks/{task_id}", task, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint("PATCH /tasks/{task_id}", task, body=versioned(title="改"), **WORK),
    Endpoint("POST /tasks/{task_id}/complete", task, body=versioned(), **WORK),
    Endpoint(
        "POST /tasks/{task_id}/cancel",
        task,
        body=versioned(reason="不需要"),
        **WORK,
    ),
    Endpoint(
        "POST /tasks/{task_id}/snooze",
        task,
        body=versioned(until=TOMORROW),
        **WORK,
    ),
    # --- UI ---
    Endpoint("GET followups:task_detail", task, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint(
        "POST followups:task_action",
        task_action("done"),
        label="done",
        silent=True,
        **WORK,
    ),
    Endpoint(
        "POST followups:task_action",
        task_action("cancel"),
        label="cancel",
        silent=True,
        body={"reason": "不需要"},
        **WORK,
    ),
    Endpoint(
        "POST followups:task_action",
        task_action("snooze"),
        label="snooze",
        silent=True,
        body={"until": TOMORROW},
        **WORK,
    ),
    # marketing reads the timeline as figures (test_views), and may not log on it
    Endpoint(
        "GET followups:customer_timeline",
        customer,
        may=(*VIEWERS, "marketing"),
        out_of_scope=OTHERS[:2],
    ),
    Endpoint(
        "POST followups:followup_log",
        customer,
        body={
            "occurred_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
            "method": "phone",
            "content": "电话沟通需求",
            "sentiment": "neutral",
        },
        **CREATE,
    ),
    Endpoint("GET followups:followup_detail", followup, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint("GET followups:attachment_download", attachment, may=VIEWERS, out_of_scope=OTHERS),
    # the first-talk e-mail: written by the customer's editors, read where the follow-up is
    Endpoint("GET followups:email_compose", followup, may=WORKERS, out_of_scope=OTHERS),
    Endpoint("GET followups:email_detail", sent_email, may=VIEWERS, out_of_scope=OTHERS),
    # templates are the company's: managers and administrators edit them
    Endpoint(
        "GET followups:email_template_edit",
        email_template,
        may=("east_manager", "admin"),
        may_not=("rep", "marketing"),
        out_of_scope=(),
    ),
    Endpoint(
        "POST followups:email_template_edit",
        email_template,
        may=("east_manager", "admin"),
        may_not=("rep",),
        out_of_scope=(),
        body={
            "name": "首次沟通跟进邮件",
            "subject": "{customer_name}：感谢",
            "body": "{salutation}您好",
        },
        status=302,
    ),
]
TABLE += RULES_TABLE  # cadence plans and care dates (test_plans_permissions)

# Writes that take their customer in the body, not the path: not object endpoints for
# core's test_permission_tables, but the same cases (marketing sees the customer: 403).
CREATES = [
    Endpoint("POST /followups", customer_row, body=followup_body, status=201, **CREATE),
    Endpoint(
        "POST /followups/with-attachments",
        customer_row,
        body=followup_body,
        status=201,
        multipart=True,
        **CREATE,
    ),
    Endpoint("POST /tasks", customer_row, body=task_body, status=201, **CREATE),
    Endpoint(
        "POST followups:task_new",
        customer_row,
        body=lambda org, made: {
            "customer": made["_customer"].pk,
            "title": "回访",
            "due_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
            "priority": "normal",
        },
        **CREATE,
    ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases([*TABLE, *CREATES]))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
