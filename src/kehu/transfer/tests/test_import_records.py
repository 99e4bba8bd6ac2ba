"""Imports of leads, opportunities and follow-ups: mapping, cleaning, dedup, the services'
rules, nothing half-written, the job's resume point."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from kehu.core import config
from kehu.customers import services as customer_services
from kehu.customers.models import Customer, CustomerStatus
from kehu.followups.models import FollowUp, Task
from kehu.leads.models import EventKind, Lead, LeadEvent, LeadStatus
from kehu.opportunities.models import Opportunity, StageChange
from kehu.transfer import engine, mapping, services
from kehu.transfer.engine import importer as engine_importer
from kehu.transfer.models import ImportJob, ImportRecord
from kehu.transfer.reports import write_error_report
from kehu.transfer.tests.helpers import write_csv, write_xlsx

pytestmark = pytest.mark.django_db

LEAD_HEADERS = ["线索名称", "联系人", "手机", "邮箱", "来源", "优先级", "需求", "预计金额"]
OPPORTUNITY_HEADERS = ["商机名称", "客户", "阶段", "金额", "预计成交日期", "负责人", "需求"]
FOLLOWUP_HEADERS = ["客户", "跟进时间", "跟进方式", "跟进内容", "联系人", "下次跟进", "下一步"]


def _job(actor: Any, kind: str, path: Path, **options: Any) -> ImportJob:
    return services.import_job_create(actor=actor, kind=kind, path=path, **options)


def _run(job: ImportJob, *, dry_run: bool = False, batch_size: int = 1000) -> ImportJob:
    job.dry_run = dry_run
    job.save()
    return engine.run_job(job, batch_size=batch_size)


def lead_rows(count: int, start: int = 0) -> list[list[Any]]:
    return [
        [
            f"线索{index}号科技有限公司",
            f"联系人{index}",
            f"137{index:08d}",
            f"lead{index}@example.cn",
            "官网",
            "",
            "想了解报价",
            "20万",
        ]
        for index in range(start, start + count)
    ]


@pytest.fixture(autouse=True)
def _reps_import(db: None) -> None:
    config.put("transfer.import_roles", ["admin", "manager", "sales"])


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
            contacts=[{"name": f"{name[:2]}联系人", "mobile": mobile}],
            force=True,
        )

    return {
        "huarui": make(org.rep, "上海华瑞精密机械有限公司", "13900001111", "91310000MA1FL5LX3K"),
        "mingtai": make(org.rep, "上海明泰贸易有限公司", "13900002222"),
        "south": make(org.south_rep, "广州南方电子有限公司", "13900003333"),
    }


# --- mapping ------------------------------------------------------------------------------------
def test_synonyms_map_each_kind() -> None:
    assert mapping.auto_map("leads", ["公司名称", "姓名", "联系电话", "线索来源", "级别"]) == {
        "公司名称": "company_name",
        "姓名": "contact_name",
        "联系电话": "mobile",
        "线索来源": "source",
        "级别": "priority",
    }
    assert mapping.auto_map(
        "opportunities", ["项目名称", "客户编号", "销售阶段", "预计成交金额", "成交日期"]
    ) == {
        "项目名称": "name",
        "客户编号": "customer",
        "销售阶段": "stage",
        "预计成交金额": "amount",
        "成交日期": "expected_close",
    }
    assert mapping.auto_map(
        "followups",
        ["公司名称", "沟通时间", "沟通方式", "沟通内容", "下次跟进时间", "下一步计划"],
    ) == {
        "公司名称": "customer",
        "沟通时间": "occurred_at",
        "沟通方式": "method",
        "沟通内容": "content",
        "下次跟进时间": "next_step_on",
        "下一步计划": "next_step_action",
    }
    # bilingual template headers map back to their fields
    assert mapping.auto_map("followups", ["跟进时间 / Follow-up time *"]) == {
        "跟进时间 / Follow-up time *": "occurred_at"
    }


# --- leads --------------------------------------------------------------------------------------
def test_leads_go_through_the_capture_rules(org: Any, tmp_path: Path) -> None:
    rows = lead_rows(3)
    rows[1][5] = "s级"  # manual priority
    path = write_xlsx(tmp_path / "leads.xlsx", rows, headers=[*LEAD_HEADERS])
    checked = _run(_job(org.admin, "leads", path), dry_run=True)
    assert checked.status == "checked", checked.message
    assert checked.counts["new"] == 3
    assert Lead.objects.count() == 0
    job = _run(checked)
    assert job.status == "done", job.message
    assert job.counts["created"] == 3
    lead = Lead.objects.get(company_name="线索1号科技有限公司")
    assert lead.mobile == "+8613700000001"
    assert lead.source == "website"
    assert lead.priority == "S"
    assert lead.priority_manual
    assert lead.estimated_value == 200000
    assert lead.status == LeadStatus.POOL
    assert lead.first_contact_due_at is not None  # the SLA deadline of the priority
    assert lead.created_by == org.admin
    assert lead.history.get().history_user == org.admin
    assert LeadEvent.objects.filter(lead=lead, kind=EventKind.CAPTURED).count() == 1
    assert ImportRecord.objects.filter(job=job, created=True).count() == 3
    assert job.report["overall"] == 100.0
    assert job.report["sample"][0]["url"].startswith("/leads/")
    pairs = [pair for item in job.report["sample"] for pair in item["pairs"]]
    assert all(pair["same"] for pair in pairs), [p for p in pairs if not p["same"]]


def test_lead_owner_assigns_with_the_sla(org: Any, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "leads.csv",
        [[*row, "rep", "已确认"] for row in lead_rows(1)]
        + [[*lead_rows(1, 5)[0], "rep", "线索池"]],
        headers=[*LEAD_HEADERS, "负责人", "线索状态"],
    )
    job = _run(_job(org.east_manager, "leads", path))
    # a manager may assign in their department, but only the assignee (or an admin) confirms
    assert job.counts == {**job.counts, "created": 0, "invalid": 2}
    assert [(e["line"], e["column"]) for e in job.errors] == [(2, "线索状态"), (3, "线索状态")]
    assert Lead.objects.count() == 0  # nothing of the refused rows is kept
    lead_job = _run(_job(org.admin, "leads", path))
    lead = Lead.objects.get(company_name="线索0号科技有限公司")
    assert lead.assignee == org.rep
    assert lead.department == org.shanghai
    assert lead.status == LeadStatus.CONFIRMED
    assert lead.confirm_due_at is not None
    assert set(lead.events.values_list("kind", flat=True)) >= {"captured", "assigned", "confirmed"}
    assert lead_job.errors[0]["line"] == 3
    assert "pool" in lead_job.errors[0]["message"]


def test_lead_duplicates_by_phone_email_and_company(org: Any, tmp_path: Path) -> None:
    first = _run(
        _job(org.admin, "leads", write_csv(tmp_path / "a.csv", lead_rows(2), LEAD_HEADERS))
    )
    assert first.counts["created"] == 2
    rows = lead_rows(3)
    rows[0][3] = "other@example.cn"  # same mobile
    rows[1][2] = "13600000000"  # same email
    rows[2][6] = "新的需求"
    again = lead_rows(1, 2)[0]  # same as line 4 of this file
    path = write_csv(tmp_path / "b.csv", [*rows, again], LEAD_HEADERS)
    skipped = _run(_job(org.admin, "leads", path))
    assert skipped.counts == {**skipped.counts, "new": 1, "duplicate": 3, "created": 1}
    assert {d["line"]: d["reasons"] for d in skipped.duplicates} == {
        2: ["n", "p"],
        3: ["e", "n"],
        5: ["e", "n", "p"],
    }
    updated = _run(_job(org.admin, "leads", path, on_duplicate="update"))
    assert updated.counts["updated"] == 4
    assert Lead.objects.count() == 3
    assert Lead.objects.get(company_name="线索0号科技有限公司").email == "other@example.cn"
    created = _run(
        _job(org.admin, "leads", write_csv(tmp_path / "c.csv", lead_rows(1), LEAD_HEADERS)),
    )
    assert created.counts["duplicate"] == 1
    job = _job(org.admin, "leads", write_csv(tmp_path / "d.csv", lead_rows(1), LEAD_HEADERS))
    services.import_job_configure(actor=org.admin, job=job, row_decisions={"2": "create"})
    job.refresh_from_db()
    assert _run(job).counts["created"] == 1
    assert Lead.objects.count() == 4


def test_bad_lead_rows_name_row_and_column(org: Any, tmp_path: Path) -> None:
    rows = lead_rows(3)
    rows[0][4] = "官网留言表单"  # unknown source
    rows[1][2] = ""  # neither mobile …
    rows[1][3] = ""  # … nor email: the service's rule
    path = write_csv(tmp_path / "a.csv", rows, LEAD_HEADERS)
    checked = _run(_job(org.admin, "leads", path), dry_run=True)
    assert checked.counts["invalid"] == 2
    assert checked.counts["new"] == 1
    by_line = {e["line"]: e for e in checked.errors}
    assert by_line[2]["column"] == "来源"
    assert "Did you mean" in by_line[2]["message"]
    assert by_line[3]["column"] == "手机"
    assert Lead.objects.count() == 0
    job = _run(checked)
    assert job.counts == {**job.counts, "created": 1, "invalid": 2}
    assert Lead.objects.count() == 1
    target = tmp_path / "errors.xlsx"
    assert write_error_report(job, target) == 2


# --- opportunities ------------------------------------------------------------------------------
def test_opportunities_resolve_customers_and_keep_stage_history(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    close = (timezone.localdate() + timedelta(days=30)).strftime("%Y年%m月%d日")
    huarui, mingtai = customers["huarui"], customers["mingtai"]
    rows = [
        ["CRM采购", huarui.number, "需求分析", "20万", close, "rep", "50个账号"],
        ["二期扩容", "91310000ma1fl5lx3k", "谈判签约", "¥1,500,000", close, "", "扩容"],
        ["年度服务", mingtai.name, "回款/复购", "8万", "2023-01-15", "", ""],
        ["试点项目", mingtai.name, "", "", "", "", ""],
    ]
    path = write_csv(tmp_path / "o.csv", rows, OPPORTUNITY_HEADERS)
    job = _run(_job(org.east_manager, "opportunities", path))
    assert job.status == "done", job.message
    assert job.counts["created"] == 4, job.errors
    first = Opportunity.objects.get(name="CRM采购")
    assert first.customer == huarui
    assert first.stage.code == "needs_analysis"
    assert first.amount == 200000
    assert first.owner == org.rep
    assert first.created_by == org.east_manager
    assert first.history.first().history_user == org.east_manager
    assert StageChange.objects.filter(opportunity=first, stage__code="needs_analysis").exists()
    assert Opportunity.objects.get(name="二期扩容").customer == huarui
    won = Opportunity.objects.get(name="年度服务")
    assert won.stage.code == "paid"
    assert won.closed_at is not None
    assert won.expected_close.isoformat() == "2023-01-15"
    assert list(won.stage_changes.values_list("stage__code", flat=True)) == [
        "initial_contact",
        "paid",
    ]
    mingtai.refresh_from_db()
    assert mingtai.status == CustomerStatus.WON  # the win made it a 成交客户
    assert Opportunity.objects.get(name="试点项目").stage.code == "initial_contact"
    pairs = [pair for item in job.report["sample"] for pair in item["pairs"]]
    assert all(pair["same"] for pair in pairs), [p for p in pairs if not p["same"]]


def test_bad_opportunity_rows_write_nothing(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    rows = [
        ["A", "不存在的公司", "需求分析", "1万", "", "", "x"],
        ["B", customers["south"].name, "需求分析", "", "", "", "x"],  # outside the east's scope
        ["C", customers["huarui"].number, "需求分折", "", "", "", "x"],
        ["D", customers["huarui"].number, "需求分析", "", "2024-13-45", "", "x"],
        ["E", customers["huarui"].number, "需求分析", "", "", "", ""],  # the stage needs 需求
    ]
    path = write_xlsx(tmp_path / "o.xlsx", rows, OPPORTUNITY_HEADERS)
    checked = _run(_job(org.east_manager, "opportunities", path), dry_run=True)
    errors = {e["line"]: e for e in checked.errors}
    assert checked.counts["invalid"] == 5
    assert errors[2]["column"] == "客户"
    assert "不存在的公司" in errors[2]["message"]
    assert errors[3]["column"] == "客户"
    assert errors[4]["column"] == "阶段"
    assert "初步接触 → 需求分析" in errors[4]["message"]
    assert "Did you mean" in errors[4]["message"]
    assert errors[5]["column"] == "预计成交日期"
    assert "2024-13-45" in errors[5]["message"]
    assert errors[6]["column"] == "需求"
    assert "Products / needs" in errors[6]["message"]
    job = _run(checked)
    assert job.counts["created"] == 0
    assert Opportunity.objects.count() == 0
    assert StageChange.objects.count() == 0


def test_opportunity_duplicates_by_customer_and_name(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    huarui = customers["huarui"]
    rows = [["CRM采购", huarui.number, "", "10万", "", "", ""]]
    _run(_job(org.admin, "opportunities", write_csv(tmp_path / "a.csv", rows, OPPORTUNITY_HEADERS)))
    rows = [
        ["crm采购", huarui.name, "需求分析", "30万", "", "", "扩容"],
        ["CRM采购", customers["mingtai"].name, "", "", "", "", ""],  # other customer: new
    ]
    path = write_csv(tmp_path / "b.csv", rows, OPPORTUNITY_HEADERS)
    skipped = _run(_job(org.admin, "opportunities", path), dry_run=True)
    assert skipped.counts == {**skipped.counts, "new": 1, "duplicate": 1}
    updated = _run(_job(org.admin, "opportunities", path, on_duplicate="update"))
    assert updated.counts == {**updated.counts, "created": 1, "updated": 1}
    opportunity = Opportunity.objects.get(customer=huarui)
    assert opportunity.amount == 300000
    assert opportunity.stage.code == "needs_analysis"
    assert opportunity.version == 3  # the edit and the stage move, each a version


def test_an_update_outside_the_importers_scope_is_refused_as_such(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    """A colleague sees huarui through a read-only share, so the row resolves, but the deal on
    it is not theirs to edit: the service answers "not found" and the row says why."""
    huarui = customers["huarui"]
    customer_services.customer_share(actor=org.rep, customer=huarui, user=org.colleague)
    rows = [["CRM采购", huarui.number, "", "10万", "", "", ""]]
    _run(_job(org.rep, "opportunities", write_csv(tmp_path / "a.csv", rows, OPPORTUNITY_HEADERS)))
    rows = [["CRM采购", huarui.number, "", "30万", "", "", ""]]
    path = write_csv(tmp_path / "b.csv", rows, OPPORTUNITY_HEADERS)
    job = _run(_job(org.colleague, "opportunities", path, on_duplicate="update"))
    assert job.counts == {**job.counts, "updated": 0, "invalid": 1}
    assert [error["message"] for error in job.errors] == ["the record is outside your scope."]
    assert Opportunity.objects.get(customer=huarui).amount == 100000


# --- follow-ups ---------------------------------------------------------------------------------
def test_followups_update_the_customer_and_plan_the_next_step(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    huarui = customers["huarui"]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    rows = [
        [huarui.number, "2024年5月20日 14点30分", "电话沟通", "介绍产品", "上海联系人", "", ""],
        [huarui.name, "2024/5/21", "拜访", "现场演示", "", tomorrow, "发送报价"],
    ]
    path = write_csv(tmp_path / "f.csv", rows, FOLLOWUP_HEADERS, encoding="gb18030")
    job = _run(_job(org.rep, "followups", path))
    assert job.status == "done", job.errors
    assert job.counts["created"] == 2
    call = FollowUp.objects.get(method="phone")
    local = timezone.localtime(call.occurred_at)
    assert (local.date().isoformat(), local.hour, local.minute) == ("2024-05-20", 14, 30)
    assert call.contact is not None
    assert call.contact.customer == huarui
    assert call.author == org.rep
    visit = FollowUp.objects.get(method="visit")
    assert timezone.localtime(visit.occurred_at).hour == 9
    assert Task.objects.get(followup=visit).title == "发送报价"
    huarui.refresh_from_db()
    assert huarui.last_contact_at == visit.occurred_at
    # the verification sample shows each file cell beside the stored value, and they agree
    pairs = [pair for item in job.report["sample"] for pair in item["pairs"]]
    assert pairs
    assert all(pair["same"] for pair in pairs), pairs


def test_followups_from_xlsx_date_cells(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    from datetime import datetime

    rows = [[customers["huarui"].number, datetime(2024, 5, 20, 15, 45), "视频会议", "演示"]]
    path = write_xlsx(tmp_path / "f.xlsx", rows, FOLLOWUP_HEADERS[:4])
    job = _run(_job(org.admin, "followups", path))
    assert job.counts["created"] == 1, job.errors
    local = timezone.localtime(FollowUp.objects.get().occurred_at)
    assert (local.hour, local.minute) == (15, 45)
    assert FollowUp.objects.get().method == "online_meeting"


def test_followup_duplicates_and_bad_rows(
    org: Any, tmp_path: Path, customers: dict[str, Customer], monkeypatch: Any
) -> None:
    huarui = customers["huarui"]
    rows = [[huarui.number, "2024-05-20 14:30", "电话", "第一次", "", "", ""]]
    _run(_job(org.rep, "followups", write_csv(tmp_path / "a.csv", rows, FOLLOWUP_HEADERS)))
    rows = [
        [huarui.name, "2024-05-20 14:30:00", "phone", "同一次", "", "", ""],  # duplicate
        [huarui.name, "2024-05-20 14:30", "微信", "微信聊", "", "", ""],  # other method
        [huarui.name, "2024-05-20 14:30", "微信", "又一次", "", "", ""],  # duplicate of line 3
        [huarui.name, "明天下午", "电话", "x", "", "", ""],
        [huarui.name, "2024-05-21", "飞鸽传书", "x", "", "", ""],
        [huarui.name, "2024-05-21", "电话", "x", "张三", "", ""],
        [huarui.name, "2024-05-21", "电话", "x", "", "2020-01-01", "过去的下一步"],
        [customers["south"].number, "2024-05-21", "电话", "x", "", "", ""],
    ]
    path = write_csv(tmp_path / "b.csv", rows, FOLLOWUP_HEADERS)
    job = _run(_job(org.rep, "followups", path))
    assert job.counts == {**job.counts, "created": 1, "duplicate": 2, "invalid": 5}
    errors = {e["line"]: e for e in job.errors}
    assert errors[5]["column"] == "跟进时间"
    assert "明天下午" in errors[5]["message"]
    assert errors[6]["column"] == "跟进方式"
    assert errors[7]["column"] == "联系人"
    assert errors[8]["column"] == "下次跟进"
    assert errors[9]["column"] == "客户"
    assert FollowUp.objects.count() == 2
    assert Task.objects.filter(title="过去的下一步").count() == 0
    # the error report holds every invalid row, also those the service refused while writing
    # and beyond the first errors kept on the job
    monkeypatch.setattr(engine_importer, "FIRST_ERRORS", 1)  # the importer's and records'
    again = _run(_job(org.rep, "followups", path))
    assert len(again.errors) == 1
    assert write_error_report(again, tmp_path / "errors.xlsx") == 5
    with pytest.raises(Exception, match="not edited"):
        _job(org.rep, "followups", path, on_duplicate="update")


def test_resume_after_a_cancel_for_followups(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    huarui = customers["huarui"]
    rows = [
        [huarui.number, f"2024-05-{day:02d} 10:00", "电话", f"第{day}次"] for day in range(1, 8)
    ]
    path = write_csv(tmp_path / "f.csv", rows, FOLLOWUP_HEADERS[:4])
    job = _job(org.rep, "followups", path)
    job.dry_run = False
    job.save()
    calls = 0

    def cancel_after_two_batches(current: ImportJob) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            ImportJob.objects.filter(pk=current.pk).update(cancel_requested=True)

    job = engine.run_job(job, batch_size=3, progress=cancel_after_two_batches)
    assert job.status == "cancelled"
    assert job.next_row == 8  # lines 2–7 written: two whole batches
    assert FollowUp.objects.count() == 6
    job.cancel_requested = False
    job.save()
    job = engine.run_job(job, batch_size=3)
    assert job.status == "done", job.message
    assert FollowUp.objects.count() == 7
    assert job.counts["created"] == 7
    assert ImportRecord.objects.filter(job=job).count() == 7


def test_queries_per_batch_are_bounded(
    org: Any,
    tmp_path: Path,
    customers: dict[str, Customer],
    django_assert_max_num_queries: Any,
) -> None:
    """The look-ups are per batch; each row costs the service's own queries only."""
    huarui = customers["huarui"]

    def import_rows(count: int, name: str, year: int) -> None:
        rows = [
            [huarui.number, f"{year}-{1 + i // 28:02d}-{1 + i % 28:02d} 10:00", "电话", f"{i}"]
            for i in range(count)
        ]
        job = _job(org.admin, "followups", write_csv(tmp_path / name, rows, FOLLOWUP_HEADERS[:4]))
        job.dry_run = False
        job.save()
        per_row = 25  # the services: ≈ 9 (lead), 14 (opportunity), 18 (follow-up)
        with django_assert_max_num_queries(60 + per_row * count):
            engine.run_job(job)
        assert job.counts["created"] == count

    import_rows(5, "a.csv", 2022)
    import_rows(20, "b.csv", 2023)


def test_followups_logged_for_their_author(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    """跟进人: a manager migrates the follow-ups of the reps of their department."""
    huarui = customers["huarui"]
    rows = [
        [huarui.number, "2024-05-20 10:00", "电话", "a", "rep"],
        [huarui.number, "2024-05-21 10:00", "电话", "b", "south_rep"],
    ]
    path = write_csv(tmp_path / "f.csv", rows, [*FOLLOWUP_HEADERS[:4], "跟进人"])
    job = _run(_job(org.east_manager, "followups", path))
    assert job.counts == {**job.counts, "created": 1, "invalid": 1}
    assert FollowUp.objects.get().author == org.rep
    assert job.errors[0]["line"] == 3
    assert job.errors[0]["column"] == "跟进人"
