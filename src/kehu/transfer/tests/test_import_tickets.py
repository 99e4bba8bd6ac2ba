"""Imports of service tickets (服务工单) into existing customers: every row through the service
app's ticket services (numbering, SLA, history, events), custom-field columns, row errors
naming line and column with nothing written, duplicates, the API and the CLI."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from kehu.accounts import services as accounts
from kehu.accounts.models import Role, User
from kehu.core import config
from kehu.core.testing.factories import api_client, make_user
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.integrations.services import custom_fields as custom_field_services
from kehu.service.models import Ticket, TicketEvent, TicketEventKind, TicketStatus
from kehu.service.services import tickets as ticket_services
from kehu.transfer import engine, mapping, services
from kehu.transfer.models import ImportJob, ImportRecord
from kehu.transfer.reports import write_error_report
from kehu.transfer.tests.helpers import customer_rows, write_csv, write_xlsx
from kehu.transfer.tests.test_cli import _kehu, _query, instance  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

HEADERS = [
    "客户",
    "标题",
    "问题描述",
    "工单类型",
    "优先级",
    "来源渠道",
    "工单状态",
    "创建时间",
    "解决时间",
    "处理人",
    "联系人",
]


def _job(actor: Any, path: Path, **options: Any) -> ImportJob:
    return services.import_job_create(actor=actor, kind="tickets", path=path, **options)


def _run(job: ImportJob, *, dry_run: bool = False, batch_size: int = 1000) -> ImportJob:
    job.dry_run = dry_run
    job.save()
    return engine.run_job(job, batch_size=batch_size)


def row(customer: str, subject: str, **cells: str) -> list[str]:
    values = {"问题描述": "主轴温度过高，设备自动停机。", **cells}
    return [customer, subject, *(values.get(header, "") for header in HEADERS[2:])]


@pytest.fixture(autouse=True)
def _reps_import(db: None) -> None:
    config.put("transfer.import_roles", ["admin", "manager", "sales"])


@pytest.fixture
def agent(org: Any) -> User:
    """A service specialist (售后一组): tickets may be assigned to them."""
    team = accounts.department_create(name="售后一组")
    return make_user(Role.SERVICE, department=team, username="agent_a", display_name="张工")


@pytest.fixture
def customers(org: Any) -> dict[str, Customer]:
    """Two customers of org.rep (上海组) and one of the south rep (out of the east's scope)."""

    def make(actor: Any, name: str, mobile: str, code: str = "") -> Customer:
        data: dict[str, Any] = {"name": name, "industry": "34", "source": "trade_show"}
        if code:
            data["credit_code"] = code
        return customer_services.customer_create(
            actor=actor,
            data=data,
            contacts=[
                {
                    "name": f"{name[2:4]}联系人",
                    "mobile": mobile,
                    "email": f"it{mobile[-4:]}@example.cn",
                }
            ],
            force=True,
        )

    return {
        "huarui": make(org.rep, "上海华瑞精密机械有限公司", "13900001111", "91310000MA1FL5LX3K"),
        "mingtai": make(org.rep, "上海明泰贸易有限公司", "13900002222"),
        "south": make(org.south_rep, "广州南方电子有限公司", "13900003333"),
    }


def fault_level(org: Any, *, required: bool = False) -> None:
    custom_field_services.custom_field_create(
        actor=org.admin,
        data={
            "kind": "ticket",
            "key": "fault_level",
            "label_zh": "故障等级",
            "label_en": "Fault level",
            "type": "choice",
            "choices": ["一级", "二级", "三级"],
            "required": required,
        },
    )


# --- the happy paths ----------------------------------------------------------------------------
def test_synonyms_map_ticket_columns() -> None:
    assert mapping.auto_map(
        "tickets", ["公司名称", "工单标题", "描述", "问题分类", "紧急程度", "报修时间", "受理人"]
    ) == {
        "公司名称": "customer",
        "工单标题": "subject",
        "描述": "content",
        "问题分类": "ticket_type",
        "紧急程度": "priority",
        "报修时间": "raised_at",
        "受理人": "assignee",
    }
    assert mapping.auto_map("tickets", ["标题 / Subject *"]) == {"标题 / Subject *": "subject"}


def test_csv_tickets_go_through_the_ticket_services(
    org: Any, agent: User, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    huarui, mingtai = customers["huarui"], customers["mingtai"]
    rows = [
        row(huarui.number, "设备报警", 工单类型="故障", 优先级="高", 创建时间="2024-05-20 14:30"),
        row(
            "91310000ma1fl5lx3k",
            "远程协助",
            工单类型="产品咨询",
            来源渠道="邮件",
            创建时间="2024年5月21日",
            处理人="张工",
            联系人="13900001111",
        ),
        row(
            mingtai.name,
            "发票问题",
            工单类型="投诉",
            优先级="低",
            工单状态="已关闭",
            创建时间="2024/5/22 9:00",
            解决时间="2024/5/23 17:30",
            处理人="agent_a",
        ),
    ]
    path = write_csv(tmp_path / "tickets.csv", rows, HEADERS, encoding="gb18030")
    checked = _run(_job(org.admin, path), dry_run=True)
    assert checked.status == "checked", checked.message
    assert checked.counts["new"] == 3, checked.errors
    assert Ticket.objects.count() == 0  # the dry run's service calls were rolled back
    job = _run(checked)
    assert job.status == "done", job.message
    assert job.counts["created"] == 3, job.errors
    assert Ticket.objects.count() == 3
    alarm = Ticket.objects.get(subject="设备报警")
    assert alarm.customer == huarui
    assert (alarm.ticket_type, alarm.priority, alarm.channel) == ("support", "high", "ui")
    assert alarm.content == "主轴温度过高,设备自动停机。"  # folded to half width, as every cell
    raised = timezone.localtime(alarm.raised_at)
    assert (raised.date().isoformat(), raised.hour, raised.minute) == ("2024-05-20", 14, 30)
    assert alarm.status == TicketStatus.NEW  # no rule, no specialist, no one named
    # numbering, SLA, history, events and the first message: as ticket_create makes them
    day = timezone.localtime().strftime("%y%m%d")
    numbers = sorted(Ticket.objects.values_list("number", flat=True))
    assert all(re.fullmatch(rf"T{day}\d{{4}}", number) for number in numbers)
    assert [int(n[-4:]) for n in numbers] == list(
        range(int(numbers[0][-4:]), 3 + int(numbers[0][-4:]))
    )
    assert alarm.response_due_at is not None
    assert alarm.response_due_at > alarm.raised_at
    assert alarm.resolution_due_at is not None
    assert alarm.created_by == org.admin
    assert alarm.history.get().history_user == org.admin
    assert alarm.messages.count() == 1
    assert list(alarm.events.values_list("kind", flat=True)) == [TicketEventKind.CREATED]
    remote = Ticket.objects.get(subject="远程协助")
    assert remote.customer == huarui
    assert remote.channel == "email"
    assert remote.assignee == agent
    assert remote.status == TicketStatus.ASSIGNED
    assert remote.department == agent.department
    assert remote.contact == huarui.contacts.get()
    assert remote.requester_email == "it1111@example.cn"
    assert timezone.localtime(remote.raised_at).hour == 9  # a date alone: 09:00
    closed = Ticket.objects.get(subject="发票问题")
    assert closed.status == TicketStatus.CLOSED
    resolved = timezone.localtime(closed.resolved_at)
    assert (resolved.date().isoformat(), resolved.hour, resolved.minute) == ("2024-05-23", 17, 30)
    assert closed.closed_at == closed.resolved_at
    assert closed.resolution_minutes is not None
    status = TicketEvent.objects.get(ticket=closed, kind=TicketEventKind.STATUS)
    assert (status.at, status.to_status) == (closed.resolved_at, TicketStatus.CLOSED)
    assert status.reason == f"Imported (import #{job.pk})"
    assert closed.history.count() == 2  # created, then closed: each a history row
    assert ImportRecord.objects.filter(job=job, created=True).count() == 3
    assert job.report["overall"] == 100.0
    assert job.report["sample"][0]["url"].startswith("/service/tickets/")
    pairs = [pair for item in job.report["sample"] for pair in item["pairs"]]
    assert all(pair["same"] for pair in pairs), [p for p in pairs if not p["same"]]


def test_xlsx_with_date_cells_and_a_custom_choice_column(
    org: Any, agent: User, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    fault_level(org, required=True)
    huarui = customers["huarui"]
    headers = [*HEADERS[:8], "故障等级 / Fault level", "处理人"]
    rows: list[list[Any]] = [
        [
            huarui.number,
            "主轴报警",
            "停机",
            "技术支持",
            "中",
            "",
            "处理中",
            datetime(2024, 5, 20, 15, 45),
            "二级",
            "agent_a",
        ],
        [
            huarui.number,
            "导轨异响",
            "异响",
            "技术支持",
            "中",
            "",
            "",
            datetime(2024, 5, 21),
            "五级",
            "",
        ],
        [
            huarui.number,
            "刀库卡刀",
            "卡刀",
            "技术支持",
            "中",
            "",
            "",
            datetime(2024, 5, 22),
            "",
            "",
        ],
    ]
    path = write_xlsx(tmp_path / "tickets.xlsx", rows, headers)
    job = _run(_job(org.admin, path))
    assert job.status == "done", job.message
    assert job.counts == {**job.counts, "created": 1, "invalid": 2}
    ticket = Ticket.objects.get()
    assert ticket.custom == {"fault_level": "二级"}
    assert ticket.status == TicketStatus.IN_PROGRESS  # through the status flow
    assert timezone.localtime(ticket.raised_at).strftime("%H:%M") == "15:45"
    errors = {error["line"]: error for error in job.errors}
    assert errors[3]["column"] == "故障等级 / Fault level"
    assert "一级、二级、三级" in errors[3]["message"]
    assert errors[4]["column"] == "故障等级 / Fault level"
    assert errors[4]["message"] == "is required."
    assert write_error_report(job, tmp_path / "errors.xlsx") == 2


def test_template_and_fields_list_the_custom_column(org: Any) -> None:
    fault_level(org, required=True)
    client = api_client(org.admin)
    response = client.get("/api/v1/imports/templates/tickets.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    headers = [cell.value for cell in workbook.worksheets[0][1]]
    assert headers[:3] == ["客户 / Customer *", "标题 / Subject *", "问题描述 / Description *"]
    assert "故障等级 / Fault level *" in headers
    assert "工单状态 / Status" in headers
    lists = workbook["Lists"]
    status_column = headers.index("工单状态 / Status") + 1
    listed = [lists.cell(row=r, column=status_column).value for r in range(1, 7)]
    assert listed == ["新建", "已分配", "处理中", "等待客户", "已解决", "已关闭"]
    level_column = headers.index("故障等级 / Fault level *") + 1
    assert [lists.cell(row=r, column=level_column).value for r in range(1, 4)] == [
        "一级",
        "二级",
        "三级",
    ]
    fields = client.get("/api/v1/imports/fields/tickets").json()
    assert {"key": "custom.fault_level", "required": True}.items() <= fields[-1].items()
    browser = Client()
    browser.force_login(org.admin)
    assert browser.get("/transfer/templates/tickets.xlsx").status_code == 200
    assert b'id="template-tickets"' in browser.get("/transfer/").content


# --- row errors -----------------------------------------------------------------------------------
def test_bad_rows_name_line_and_column_and_write_nothing(
    org: Any, agent: User, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    huarui = customers["huarui"]
    rows = [
        row(customers["south"].number, "南方的工单"),  # outside the rep's scope
        row("不存在的公司", "无主工单"),
        row(huarui.number, "无人处理", 处理人="nobody"),
        row(huarui.number, "销售处理", 处理人="rep"),  # not a service user, manager or admin
        row(huarui.number, "优先级错", 优先级="高级"),
        row(huarui.number, "状态错", 工单状态="已解决了"),
        row(huarui.number, "未解决却有时间", 解决时间="2024-05-23"),
        row(
            huarui.number,
            "先解决后创建",
            工单状态="已解决",
            创建时间="2024-05-23",
            解决时间="2024-05-20",
        ),
        row(
            huarui.number,
            "未来的工单",
            创建时间=(timezone.localdate() + timedelta(days=3)).isoformat(),
        ),
        row(huarui.number, "不是联系人", 联系人="张三"),
        row(huarui.number, "已分配", 工单状态="已分配"),  # nobody is responsible
    ]
    path = write_csv(tmp_path / "bad.csv", rows, HEADERS)
    checked = _run(_job(org.east_manager, path), dry_run=True)
    assert checked.counts == {**checked.counts, "new": 0, "invalid": 11}, checked.errors
    errors = {error["line"]: error for error in checked.errors}
    assert errors[2]["column"] == "客户"  # outside the east manager's scope
    assert "no customer you can see" in errors[2]["message"]
    assert errors[3]["column"] == "客户"
    assert "不存在的公司" in errors[3]["message"]
    assert errors[4]["column"] == "处理人"
    assert "nobody" in errors[4]["message"]
    assert errors[5]["column"] == "处理人"
    assert "service user" in errors[5]["message"]
    assert errors[6]["column"] == "优先级"
    assert "Did you mean “高”?" in errors[6]["message"]
    assert errors[7]["column"] == "工单状态"
    assert "Did you mean “已解决”?" in errors[7]["message"]
    assert errors[8]["column"] == "解决时间"
    assert errors[9]["column"] == "解决时间"
    assert "before the ticket was raised" in errors[9]["message"]
    assert errors[10]["column"] == "创建时间"
    assert "future" in errors[10]["message"]
    assert errors[11]["column"] == "联系人"
    assert errors[12]["column"] == "工单状态"
    assert "cannot be assigned" in errors[12]["message"]
    job = _run(checked)
    assert job.counts == {**job.counts, "created": 0, "invalid": 11}
    assert Ticket.objects.count() == 0
    assert TicketEvent.objects.count() == 0
    assert Ticket.history.model.objects.count() == 0
    assert write_error_report(job, tmp_path / "errors.xlsx") == 11


def test_a_rep_imports_open_tickets_of_their_customers(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    rows = [
        row(customers["huarui"].name, "设备报警"),
        row(customers["south"].name, "南方"),  # outside the rep's scope
        row(customers["mingtai"].name, "已关闭", 工单状态="已关闭"),  # not theirs to close
    ]
    job = _run(_job(org.rep, write_csv(tmp_path / "a.csv", rows, HEADERS)))
    assert job.counts == {**job.counts, "created": 1, "invalid": 2}
    errors = {error["line"]: error for error in job.errors}
    assert errors[3]["column"] == "客户"
    assert "no customer you can see" in errors[3]["message"]
    assert errors[4]["column"] == "工单状态"
    assert "may not change it" in errors[4]["message"]
    ticket = Ticket.objects.get()  # nothing of the refused rows is kept
    assert (ticket.subject, ticket.created_by) == ("设备报警", org.rep)


# --- duplicates -----------------------------------------------------------------------------------
def test_duplicates_by_customer_subject_and_day(
    org: Any, agent: User, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    huarui, mingtai = customers["huarui"], customers["mingtai"]
    first = [row(huarui.number, "设备报警", 优先级="低", 创建时间="2024-05-20 10:00")]
    _run(_job(org.admin, write_csv(tmp_path / "a.csv", first, HEADERS)))
    rows = [
        row(huarui.name, "设备报警", 优先级="高", 创建时间="2024-05-20 16:00", 处理人="agent_a"),
        row(huarui.name, "设备报警", 创建时间="2024-05-21 10:00"),  # another day: new
        row(mingtai.name, "设备报警", 创建时间="2024-05-20 10:00"),  # another customer: new
        row(huarui.name, "设备报警", 创建时间="2024-05-21 11:00"),  # same as line 3
    ]
    path = write_csv(tmp_path / "b.csv", rows, HEADERS)
    skipped = _run(_job(org.admin, path))
    assert skipped.counts == {**skipped.counts, "created": 2, "duplicate": 2}
    assert {d["line"]: (d["earlier_line"], len(d["existing"])) for d in skipped.duplicates} == {
        2: (None, 1),
        5: (3, 0),
    }
    assert Ticket.objects.count() == 3
    updated = _run(_job(org.admin, path, on_duplicate="update"))
    assert updated.counts == {**updated.counts, "updated": 4}
    alarm = Ticket.objects.get(customer=huarui, raised_at__date="2024-05-20")
    assert alarm.priority == "high"
    assert alarm.assignee == agent  # ticket_assign: event and version
    assert alarm.status == TicketStatus.ASSIGNED
    assert TicketEvent.objects.filter(ticket=alarm, kind=TicketEventKind.ASSIGNED).count() == 1
    assert Ticket.objects.count() == 3
    created = _run(
        _job(org.admin, write_csv(tmp_path / "c.csv", first, HEADERS), on_duplicate="create")
    )
    assert created.counts["created"] == 1
    assert Ticket.objects.count() == 4


# --- API, CLI, queries ----------------------------------------------------------------------------
def test_api_takes_kind_tickets(org: Any, tmp_path: Path, customers: dict[str, Customer]) -> None:
    client = api_client(org.admin)
    path = write_csv(
        tmp_path / "t.csv",
        [row(customers["huarui"].number, "设备报警"), row("无此客户", "x")],
        HEADERS,
    )
    with path.open("rb") as handle:
        response = client.post(
            "/api/v1/imports", {"file": handle, "kind": "tickets", "dry_run": "false"}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["status"]) == ("tickets", "done")
    assert body["counts"]["created"] == 1
    assert (body["errors"][0]["line"], body["errors"][0]["column"]) == (3, "客户")
    assert Ticket.objects.count() == 1
    response = client.post(
        "/api/v1/imports/mappings",
        json.dumps({"name": "旧工单系统", "kind": "tickets", "columns": {"工单号": ""}}),
        "application/json",
    )
    assert response.status_code == 201, response.content


def test_cli_imports_tickets(instance: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    customers = write_csv(tmp_path / "c.csv", customer_rows(1))
    assert _kehu(instance, "import", "customers", str(customers)).returncode == 0
    tickets = write_csv(
        tmp_path / "t.csv",
        [row(customer_rows(1)[0][0], "设备报警"), row("无此客户", "x", 优先级="超高")],
        HEADERS,
    )
    done = _kehu(instance, "import", "tickets", str(tickets))
    assert done.returncode == 0, done.stderr
    assert "created: 1" in done.stdout, done.stdout + done.stderr
    assert "line 3, 客户: no customer you can see" in done.stdout
    assert "line 3, 优先级: “超高” is not one of" in done.stdout
    again = _kehu(instance, "import", "--kind", "tickets", str(tickets), "--dry-run")
    assert "duplicate: 1" in again.stdout, again.stdout + again.stderr
    db = Path(instance["KEHU_DATA_DIR"]) / "kehu.sqlite3"
    assert _query(db, "SELECT count(*) FROM service_ticket") == [(1,)]
    assert _query(db, "SELECT count(*) FROM service_ticketevent") == [(1,)]


def test_queries_per_batch_do_not_grow_with_rows(
    org: Any, agent: User, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    """The look-ups (customers, users, contacts, duplicates) are a few queries per batch; each
    row costs what ticket_create costs when called directly, plus its savepoint."""
    huarui = customers["huarui"]

    def import_rows(count: int, year: int) -> int:
        rows = [
            row(
                huarui.number,
                f"工单{i}",
                创建时间=f"{year}-03-01 10:00",
                处理人="agent_a",
                联系人="华瑞联系人",
            )
            for i in range(count)
        ]
        job = _job(org.admin, write_csv(tmp_path / f"{year}.csv", rows, HEADERS))
        job.dry_run = False
        job.save()
        with CaptureQueriesContext(connection) as queries:
            engine.run_job(job)
        assert job.counts["created"] == count, job.errors
        return len(queries.captured_queries)

    import_rows(1, 2020)  # caches (settings, custom-field definitions) filled once
    contact = huarui.contacts.get()
    with CaptureQueriesContext(connection) as direct:
        ticket_services.ticket_create(
            actor=org.admin,
            data={"subject": "对照", "content": "x", "assignee": agent, "custom": {}},
            channel="ui",
            customer=huarui,
            contact=contact,
        )
    service_cost = len(direct.captured_queries)
    ten, fifty = import_rows(10, 2021), import_rows(50, 2022)
    per_row = (fifty - ten) / 40
    # each row costs the service's own queries and its savepoint (measured: 22 against 21)
    assert per_row <= service_cost + 2, (ten, fifty, service_cost)
    assert ten - 10 * per_row <= 40, (ten, fifty)  # the fixed part: job, look-ups, report
