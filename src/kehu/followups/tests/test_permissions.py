"""Who may reach each follow-up, attachment and task URL and API operation (the three-way
table of ``kehu.core.testing.permissions``).

A follow-up is seen exactly where its customer is (上海组's rep's customer: the rep, their
manager, admin, and marketing, which reads every customer); a task where its customer is or
by its assignee, and worked where its customer is edited or by its assignee.
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
from kehu.followups.tests.factories import make_customer

VIEWERS = ("rep", "east_manager", "marketing")
OTHERS = ("colleague", "south_manager")
WORKERS = ("rep", "east_manager")


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def customer(org: Organisation) -> dict[str, Any]:
    return {"customer_id": make_customer(org.rep).pk}


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


def task_action(action: str) -> Any:
    return lambda org: {**task(org), "action": action}


def versioned(**fields: Any) -> Any:
    def body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
        return {"version": made["_task"].version, **fields}

    return body


TOMORROW = (timezone.now() + timedelta(days=2)).isoformat()
WORK: Roles = {"may": WORKERS, "may_not": ("marketing",), "out_of_scope": OTHERS}

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
    Endpoint("GET followups:customer_timeline", customer, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint(
        "POST followups:followup_log",
        customer,
        body={
            "occurred_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
            "method": "phone",
            "content": "电话沟通需求",
            "sentiment": "neutral",
        },
        may=WORKERS,
        out_of_scope=OTHERS,
    ),
    Endpoint("GET followups:followup_detail", followup, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint("GET followups:attachment_download", attachment, may=VIEWERS, out_of_scope=OTHERS),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
