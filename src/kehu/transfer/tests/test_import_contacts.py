"""Imports of contacts into existing customers (联系人导入): the customer named as the other
record imports name it, the contact services' rules, custom-field columns, duplicates per the
import's decision, the template, the API, the CLI and the queries per batch."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from kehu.core import config, custom_fields
from kehu.core.testing.factories import api_client
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.integrations.models import CustomField
from kehu.integrations.services import custom_fields as field_services
from kehu.transfer import blank, engine, mapping, services
from kehu.transfer.forms import UploadForm
from kehu.transfer.models import ImportJob, ImportRecord
from kehu.transfer.reports import write_error_report
from kehu.transfer.tests.helpers import write_csv, write_xlsx
from kehu.transfer.tests.test_cli import _env, _kehu, _query

pytestmark = pytest.mark.django_db

HEADERS = ["客户", "联系人", "性别", "职务", "手机号", "固定电话", "电子邮件", "关键决策人", "备注"]


def _job(actor: Any, path: Path, **options: Any) -> ImportJob:
    return services.import_job_create(actor=actor, kind="contacts", path=path, **options)


def _run(job: ImportJob, *, dry_run: bool = False, batch_size: int = 1000) -> ImportJob:
    job.dry_run = dry_run
    job.save()
    return engine.run_job(job, batch_size=batch_size)


def _contact(customer: str, name: str, mobile: str = "", email: str = "", **more: str) -> list[str]:
    """A row of ``HEADERS``."""
    return [
        customer,
        name,
        more.get("gender", ""),
        more.get("title", ""),
        mobile,
        more.get("work_phone", ""),
        email,
        more.get("decision", ""),
        more.get("notes", ""),
    ]


def define(actor: Any, **data: Any) -> CustomField:
    values: dict[str, Any] = {"kind": "contact", "type": "text", "label_en": "", **data}
    values.setdefault("label_zh", values["key"])
    return field_services.custom_field_create(actor=actor, data=values)


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
            contacts=[{"name": f"{name[2:4]}联系人", "mobile": mobile}],
            force=True,
        )

    return {
        "huarui": make(org.rep, "上海华瑞精密机械有限公司", "13900001111", "91310000MA1FL5LX3K"),
        "mingtai": make(org.rep, "上海明泰贸易有限公司", "13900002222"),
        "south": make(org.south_rep, "广州南方电子有限公司", "13900003333"),
    }


# --- mapping and template -----------------------------------------------------------------------
def test_synonyms_map_the_contact_columns() -> None:
    assert mapping.auto_map(
        "contacts",
        [
            "公司",
            "姓名",
            "手机",
            "座机",
            "邮箱",
            "职位",
            "性别",
            "决策人",
            "联系人备注",
            "部门",
        ],
    ) == {
        "公司": "customer",
        "姓名": "contact_name",
        "手机": "contact_mobile",
        "座机": "contact_work_phone",
        "邮箱": "contact_email",
        "职位": "contact_title",
        "性别": "contact_gender",
        "决策人": "contact_is_decision_maker",
        "联系人备注": "contact_notes",
        "部门": "",  # contacts have no department field (a custom field can hold one)
    }
    assert mapping.auto_map("contacts", HEADERS)["联系人"] == "contact_name"
    # the contact export's headers map back (the second customer column is ignored)
    exported = ["客户编号 / Customer number", "客户名称 / Customer name", "主要联系人 / Primary"]
    assert mapping.auto_map("contacts", exported) == {
        "客户编号 / Customer number": "customer",
        "客户名称 / Customer name": "",
        "主要联系人 / Primary": "contact_is_primary",
    }


def test_template_lists_the_contact_custom_fields(org: Any) -> None:
    define(
        org.admin,
        key="hobby",
        label_zh="爱好",
        label_en="Hobby",
        type="choice",
        choices=["钓鱼", "高尔夫"],
    )
    define(org.admin, key="level", label_zh="客户级别", kind="customer")  # not a contact field
    target = io.BytesIO()
    blank.write_template("contacts", target)
    workbook = load_workbook(io.BytesIO(target.getvalue()))
    headers = [cell.value for cell in workbook.worksheets[0][1]]
    assert headers[:2] == ["客户 / Customer *", "联系人 / Contact name *"]
    assert "手机 / Mobile" in headers
    assert "性别 / Gender" in headers
    assert headers[-1] == "爱好 / Hobby"
    assert "客户级别 / level" not in headers
    lists = workbook["Lists"]
    hobby = headers.index("爱好 / Hobby") + 1
    assert [lists.cell(row=r, column=hobby).value for r in (1, 2)] == ["钓鱼", "高尔夫"]
    notes = [row[0].value for row in workbook["说明 Instructions"].iter_rows()]
    assert any("one row per contact" in str(line) for line in notes)
    # the page offers the kind and its template
    assert ("contacts", "Contacts of existing customers") in UploadForm().fields["kind"].choices
    page = Client()
    page.force_login(org.admin)
    assert 'id="template-contacts"' in page.get("/transfer/").content.decode()
    assert page.get("/transfer/templates/contacts.xlsx").status_code == 200
    client = api_client(org.admin)
    assert client.get("/api/v1/imports/templates/contacts.xlsx").status_code == 200
    fields = client.get("/api/v1/imports/fields/contacts").json()
    assert {"key": "custom.hobby", "required": False}.items() <= fields[-1].items()


# --- writing ------------------------------------------------------------------------------------
def test_csv_of_contacts_goes_through_the_contact_service(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    huarui, mingtai = customers["huarui"], customers["mingtai"]
    rows = [
        _contact(
            huarui.number,
            "王伟",
            "138 1234 5678",
            "WangWei@Example.cn",
            gender="先生",
            title="采购经理",
            decision="是",
            notes="展会认识",
        ),
        _contact("91310000ma1fl5lx3k", "李娜", email="lina@example.cn", gender="女"),
        _contact(mingtai.name, "赵强", "021-61234567"),  # a landline in the mobile column
    ]
    path = write_csv(tmp_path / "c.csv", rows, HEADERS, encoding="gb18030")
    checked = _run(_job(org.rep, path), dry_run=True)
    assert checked.counts == {**checked.counts, "new": 3, "invalid": 0}, checked.errors
    assert Contact.objects.count() == 3  # the customers' own: the dry run wrote nothing
    job = _run(checked)
    assert job.status == "done", job.message
    assert job.counts == {**job.counts, "created": 3, "invalid": 0}, job.errors
    wang = Contact.objects.get(name="王伟")
    assert wang.customer == huarui
    assert (wang.mobile, wang.email, wang.gender) == ("+8613812345678", "wangwei@example.cn", "m")
    assert (wang.title, wang.is_decision_maker, wang.notes) == ("采购经理", True, "展会认识")
    assert not wang.is_primary  # huarui has its primary contact already
    li = Contact.objects.get(name="李娜")
    assert (li.customer, li.gender, li.mobile) == (huarui, "f", "")
    zhao = Contact.objects.get(name="赵强")
    assert (zhao.customer, zhao.mobile, zhao.work_phone) == (mingtai, "", "+862161234567")
    created = wang.history.get()
    assert (created.history_type, created.history_user) == ("+", org.rep)
    assert ImportRecord.objects.filter(job=job, created=True).count() == 3
    assert set(ImportRecord.objects.values_list("object_id", flat=True)) == {
        wang.pk,
        li.pk,
        zhao.pk,
    }
    huarui.refresh_from_db()
    assert huarui.contact_info_updated_at is not None
    assert job.report["overall"] == 100.0
    pairs = [pair for item in job.report["sample"] for pair in item["pairs"]]
    assert len(job.report["sample"]) == 3
    assert all(pair["same"] for pair in pairs), [p for p in pairs if not p["same"]]


def test_xlsx_of_contacts_with_a_primary_contact(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    mingtai = customers["mingtai"]
    headers = ["客户名称 / Customer name", "联系人姓名", "手机 / Mobile", "主要联系人", "微信"]
    rows = [
        [mingtai.name, "钱芳", 13612345678, "是", "qianfang"],  # a number cell
        [mingtai.name, "孙磊", "+86 137-1234-5678", "否", ""],
    ]
    job = _run(_job(org.east_manager, write_xlsx(tmp_path / "c.xlsx", rows, headers)))
    assert job.counts == {**job.counts, "created": 2, "invalid": 0}, job.errors
    qian = Contact.objects.get(name="钱芳")
    assert (qian.mobile, qian.wechat, qian.is_primary) == ("+8613612345678", "qianfang", True)
    assert Contact.objects.get(name="孙磊").mobile == "+8613712345678"
    assert Contact.objects.filter(customer=mingtai, is_primary=True).get() == qian
    assert qian.history.get().history_user == org.east_manager


def test_bad_rows_name_row_and_column_and_write_nothing(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    # the shipped contact rules (a contact way; a mobile beside a work phone needs a reason)
    config.put("customers.contact_required_fields", ["name", "contact"])
    config.put("customers.private_mobile_needs_reason", True)
    huarui = customers["huarui"]
    rows = [
        _contact("不存在的公司", "甲", "13811110001"),
        _contact(customers["south"].number, "乙", "13811110002"),  # outside the rep's scope
        _contact(huarui.number, "丙", "12345"),
        _contact(huarui.number, "丁"),  # neither phone nor e-mail: the entry rule
        _contact(huarui.number, "", "13811110005"),
        _contact(huarui.number, "戊", "13811110006", gender="未知"),
        _contact(huarui.number, "己", "13811110007", work_phone="021-61234567"),  # no reason
        _contact(huarui.number, "庚", "13811110008"),  # the one good row
    ]
    path = write_csv(tmp_path / "c.csv", rows, HEADERS)
    checked = _run(_job(org.rep, path), dry_run=True)
    errors = {e["line"]: e for e in checked.errors}
    assert checked.counts == {**checked.counts, "new": 1, "invalid": 7}, checked.errors
    assert errors[2]["column"] == "客户"
    assert "不存在的公司" in errors[2]["message"]
    assert errors[3]["column"] == "客户"
    assert "no customer you can see" in errors[3]["message"]
    assert errors[4]["column"] == "手机号"
    assert errors[5]["column"] == "手机号"
    assert "mobile, a work phone or an e-mail" in errors[5]["message"]
    assert errors[6] == {"line": 6, "column": "联系人", "message": "is required."}
    assert errors[7]["column"] == "性别"
    assert "先生" in errors[7]["message"]
    assert errors[8]["column"] == "手机号"
    assert "reason" in errors[8]["message"]
    job = _run(checked)
    assert job.counts == {**job.counts, "created": 1, "invalid": 7}
    assert not Contact.objects.filter(customer=customers["south"], name="乙").exists()
    assert set(Contact.objects.filter(customer=huarui).values_list("name", flat=True)) == {
        "华瑞联系人",
        "庚",
    }
    assert write_error_report(job, tmp_path / "errors.xlsx") == 7


def test_a_customer_seen_through_a_read_only_share_is_refused(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    """The colleague sees huarui (a read-only share): the row resolves, the contact service
    refuses to add to it, and the row says so in the customer column."""
    huarui = customers["huarui"]
    customer_services.customer_share(actor=org.rep, customer=huarui, user=org.colleague)
    path = write_csv(tmp_path / "c.csv", [_contact(huarui.number, "王伟", "13812345678")], HEADERS)
    job = _run(_job(org.colleague, path))
    assert job.counts == {**job.counts, "created": 0, "invalid": 1}
    assert job.errors[0]["column"] == "客户"
    assert not Contact.objects.filter(name="王伟").exists()


# --- custom fields ------------------------------------------------------------------------------
def test_custom_field_columns(org: Any, tmp_path: Path, customers: dict[str, Customer]) -> None:
    define(
        org.admin,
        key="hobby",
        label_zh="爱好",
        label_en="Hobby",
        type="choice",
        choices=["钓鱼", "高尔夫"],
    )
    define(org.admin, key="birthday", label_zh="生日", type="date", required=True)
    huarui = customers["huarui"]
    headers = ["客户", "联系人", "手机", "爱好 / Hobby", "生日"]
    rows = [
        [huarui.number, "王伟", "13812340001", "钓鱼", "1980-05-20"],
        [huarui.number, "李娜", "13812340002", "游泳", "1985-01-01"],
        [huarui.number, "赵强", "13812340003", "高尔夫", ""],
    ]
    job = _run(_job(org.rep, write_csv(tmp_path / "c.csv", rows, headers)))
    assert job.counts == {**job.counts, "created": 1, "invalid": 2}, job.errors
    errors = {e["line"]: e for e in job.errors}
    assert errors[3]["column"] == "爱好 / Hobby"
    assert "钓鱼、高尔夫" in errors[3]["message"]
    assert errors[4] == {"line": 4, "column": "生日", "message": "is required."}
    assert Contact.objects.get(name="王伟").custom == {"hobby": "钓鱼", "birthday": "1980-05-20"}
    assert not Contact.objects.filter(name__in=["李娜", "赵强"]).exists()
    # a required field needs its column: a file without one is refused before anything
    with pytest.raises(Exception, match="生日"):
        _job(org.rep, write_csv(tmp_path / "d.csv", [r[:4] for r in rows], headers[:4]))


# --- duplicates ---------------------------------------------------------------------------------
def test_duplicates_follow_the_decision(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    huarui, mingtai = customers["huarui"], customers["mingtai"]
    existing = Contact.objects.get(customer=huarui)  # mobile 13900001111
    rows = [
        _contact(huarui.number, "华瑞联系人", "13900001111", title="总经理"),  # in the database
        _contact(huarui.number, "王伟", "13812345678", "wang@example.cn"),
        _contact(huarui.name, "王伟", "", "WANG@example.cn", title="采购经理"),  # of line 3
        _contact(mingtai.number, "王伟", "13812345678"),  # another customer: not a duplicate
    ]
    path = write_csv(tmp_path / "c.csv", rows, HEADERS)

    skipped = _run(_job(org.rep, path))
    assert skipped.counts == {**skipped.counts, "created": 1, "duplicate": 2, "invalid": 1}
    assert [(d["line"], d["existing"], d["earlier_line"]) for d in skipped.duplicates] == [
        (2, [existing.pk], None),
        (4, [], 3),
    ]
    # the same mobile at another customer is the contact form's duplicate warning
    assert skipped.errors[0]["line"] == 5
    assert skipped.errors[0]["column"] == "手机号"
    assert "another customer" in skipped.errors[0]["message"]
    wang = Contact.objects.get(name="王伟")
    assert wang.customer == huarui
    existing.refresh_from_db()
    assert existing.title == ""

    updated = _run(_job(org.rep, path, on_duplicate="update"))
    # line 2 updates the stored contact, line 3 is now a duplicate of wang, and line 4 (its
    # e-mail) merges into the contact line 3 updated
    assert updated.counts == {**updated.counts, "created": 0, "updated": 3, "invalid": 1}
    existing.refresh_from_db()
    assert (existing.title, existing.version) == ("总经理", 2)
    assert existing.history.first().history_user == org.rep
    assert "Imported (import #" in existing.history.first().history_change_reason
    wang.refresh_from_db()
    assert wang.title == "采购经理"
    assert Contact.objects.filter(name="王伟").count() == 1

    created = _run(_job(org.rep, path, on_duplicate="create"))
    assert created.counts == {**created.counts, "created": 4, "duplicate": 0, "invalid": 0}
    assert Contact.objects.filter(customer=huarui, mobile="+8613900001111").count() == 2
    assert Contact.objects.filter(customer=mingtai, mobile="+8613812345678").count() == 1


def test_a_row_decision_overrides_the_job(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    huarui = customers["huarui"]
    rows = [_contact(huarui.number, "华瑞联系人", "13900001111", title="总经理")]
    job = _job(org.rep, write_csv(tmp_path / "c.csv", rows, HEADERS))
    job = _run(job, dry_run=True)
    assert job.counts["duplicate"] == 1
    services.import_job_configure(actor=org.rep, job=job, row_decisions={"2": "update"})
    job = _run(ImportJob.objects.get(pk=job.pk))
    assert job.counts == {**job.counts, "updated": 1}
    assert Contact.objects.get(customer=huarui).title == "总经理"


# --- API, CLI, queries --------------------------------------------------------------------------
def test_api_imports_contacts(org: Any, tmp_path: Path, customers: dict[str, Customer]) -> None:
    huarui = customers["huarui"]
    rows = [_contact(huarui.number, "王伟", "13812345678"), _contact("无此客户", "李娜", "x")]
    path = write_csv(tmp_path / "c.csv", rows, HEADERS)
    client = api_client(org.rep)
    with path.open("rb") as handle:
        response = client.post("/api/v1/imports", {"file": handle, "kind": "contacts"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["status"]) == ("contacts", "checked")
    assert body["counts"] == {**body["counts"], "new": 1, "invalid": 1}
    assert {e["column"] for e in body["errors"]} == {"客户", "手机号"}
    response = client.post(
        f"/api/v1/imports/{body['id']}/run", json.dumps({"dry_run": False}), "application/json"
    )
    assert response.json()["status"] == "done"
    assert Contact.objects.get(name="王伟").customer == huarui
    saved = client.post(
        "/api/v1/imports/mappings",
        json.dumps({"name": "名片", "kind": "contacts", "columns": {"名字": "contact_name"}}),
        "application/json",
    )
    assert saved.status_code in (200, 201), saved.content


def test_queries_per_batch_do_not_grow_beyond_the_services(
    org: Any, tmp_path: Path, customers: dict[str, Customer]
) -> None:
    """The look-ups (customers, duplicates, users) are per batch; each row costs what adding
    the contact through ``contact_create`` costs, and nothing more."""
    huarui = customers["huarui"]

    def import_rows(count: int, start: int) -> int:
        numbers = range(start, start + count)
        rows = [_contact(huarui.number, f"联系人{i}", f"137{i:08d}") for i in numbers]
        job = _job(org.admin, write_csv(tmp_path / f"{start}.csv", rows, HEADERS))
        job.dry_run = False
        job.save()
        with CaptureQueriesContext(connection) as captured:
            engine.run_job(job)
        assert job.counts["created"] == count, job.errors
        return len(captured)

    import_rows(1, 0)  # caches of the first import
    small, large = import_rows(10, 100), import_rows(50, 200)
    # one contact through the service, in a savepoint as the importer writes each row (the
    # custom-field definitions read before, as the importer reads them once per batch)
    with custom_fields.pinned(), CaptureQueriesContext(connection) as captured:
        customer_services.contact_create(
            actor=org.admin,
            customer=huarui,
            data={"name": "对照", "mobile": "13900009999", "custom": {}},
        )
    per_row = len(captured) + 2  # the importer's savepoint and its release
    assert large - small == 40 * per_row, (small, large, per_row)


def test_cli_imports_contacts(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    assert _kehu(env, "manage", "migrate", "-v", "0").returncode == 0
    assert _kehu(env, "user", "add", "boss", "--role", "admin").returncode == 0
    relaxed = _kehu(
        env,
        "manage",
        "shell",
        "-c",
        "from kehu.core.models import SystemSetting\n"
        "from kehu.core.testing.entry_rules import RELAXED\n"
        "for key, value in RELAXED.items():\n"
        "    SystemSetting.objects.update_or_create(key=key, defaults={'value': value})",
    )
    assert relaxed.returncode == 0, relaxed.stderr
    customers = write_csv(
        tmp_path / "customers.csv",
        [
            [
                "上海华瑞精密机械有限公司",
                "通用设备制造业",
                "上海市",
                "行业展会",
                "张总",
                "13900001111",
            ]
        ],
        ["客户名称", "所属行业", "所在地区", "信息来源", "联系人", "手机"],
    )
    imported = _kehu(env, "import", "customers", str(customers))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    contacts = write_csv(
        tmp_path / "contacts.csv",
        [["上海华瑞精密机械有限公司", "王伟", "13812345678"], ["无此客户", "李娜", "13812345679"]],
        ["公司名称", "姓名", "手机号"],
    )
    checked = _kehu(env, "import", "contacts", str(contacts), "--dry-run")
    assert checked.returncode == 0, checked.stderr
    assert "new: 1" in checked.stdout
    done = _kehu(env, "import", "--kind", "contacts", str(contacts))
    assert "created: 1" in done.stdout, done.stdout + done.stderr
    assert "line 3, 公司名称: no customer you can see" in done.stdout
    db = Path(env["KEHU_DATA_DIR"]) / "kehu.sqlite3"
    assert _query(db, "SELECT name, mobile FROM customers_contact WHERE name = '王伟'") == [
        ("王伟", "+8613812345678")
    ]
