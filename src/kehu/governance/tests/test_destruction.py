"""The destruction engine (合规销毁): a customer with every kind of related row is destroyed,
then every text and JSON column of every installed model and every file under the data dir
is searched for its name, phone numbers and e-mail addresses: zero hits."""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models
from django.utils import timezone

from kehu.campaigns.models import (
    CampaignMember,
    Consent,
    ConsentSource,
    ConsentStatus,
    Message,
    Touch,
    TouchKind,
)
from kehu.campaigns.services import sends
from kehu.campaigns.tests.outreach_support import make_campaign, make_template, smtp_sink
from kehu.contracts.tests.support import approved_contract, record_payment
from kehu.core import config
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.models import AuditEntry
from kehu.core.testing.factories import Organisation, api_client
from kehu.core.testing.fuzzdata import PNG
from kehu.customers import selectors as customer_selectors
from kehu.customers import services as customers
from kehu.customers.models import Contact, Customer, SavedFilter
from kehu.customers.tests.factories import make_customer
from kehu.followups import services as followups
from kehu.governance.models import DestructionRun
from kehu.governance.services import holds
from kehu.governance.services.destruction import (
    destroy_contact,
    destroy_customers,
    destroy_lead,
)
from kehu.integrations.models import ExternalId, WebhookDelivery
from kehu.integrations.services import webhooks
from kehu.leads.models import Lead
from kehu.leads.services import assignment as lead_assignment
from kehu.leads.services import convert as lead_convert
from kehu.leads.services import web_forms
from kehu.notifications.services import notify
from kehu.opportunities import services as deals
from kehu.pools.models import RevealLog
from kehu.pools.services.claims import pool_put
from kehu.pools.services.pools import pool_create
from kehu.service.models import InboundEmail, Mailbox
from kehu.service.services import handovers, surveys, tickets
from kehu.transfer.models import ImportRecord
from kehu.transfer.services import import_job_create, import_job_start, store_upload

pytestmark = pytest.mark.django_db

NAME = "嵩岳销毁验证科技有限公司"
OLD_NAME = "嵩岳旧称验证有限公司"
PERSON = "欧阳销毁"
MOBILE = "13987654321"
WORK_PHONE = "021-66778899"
EMAIL = "ouyang.destroy@example.cn"
OTHER = "司马验证"
OTHER_MOBILE = "13711223344"
OTHER_EMAIL = "sima.destroy@example.cn"
NEEDLES = [NAME, OLD_NAME, PERSON, MOBILE, WORK_PHONE, EMAIL, OTHER, OTHER_MOBILE, OTHER_EMAIL]


# --- the scan ------------------------------------------------------------------------------
def _text_columns(model: type[models.Model]) -> list[str]:
    kinds = (models.CharField, models.TextField, models.JSONField, models.FileField)
    return [f.attname for f in model._meta.concrete_fields if isinstance(f, kinds)]


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def scan_tables(needles: list[str]) -> list[str]:
    """Every text/JSON column of every managed model, read through the ORM."""
    hits: list[str] = []
    for model in apps.get_models():
        columns = _text_columns(model)
        if not columns or not model._meta.managed:
            continue
        for row in model._base_manager.values_list("pk", *columns).iterator():
            for column, value in zip(columns, row[1:], strict=True):
                if value in (None, "", {}, []):
                    continue
                text = _as_text(value).lower()
                hits.extend(
                    f"{model._meta.label}.{column} #{row[0]}: {needle}"
                    for needle in needles
                    if needle.lower() in text
                )
    return hits


def _file_texts(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    yield data
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                yield archive.read(member)


def scan_files(root: Path, needles: list[str]) -> list[str]:
    hits: list[str] = []
    encoded = [
        (needle, form)
        for needle in needles
        for form in {needle.encode("utf-8"), needle.encode("gb18030")}
    ]
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        for data in _file_texts(path):
            hits.extend(f"{path}: {needle}" for needle, form in encoded if form in data)
    return hits


# --- the customer with everything ------------------------------------------------------------
@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path


def _upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def build_customer(org: Organisation, data_dir: Path, sink: Any) -> Customer:
    """A customer that came in as a web-form lead, with a row of every kind."""
    admin, rep = org.admin, org.rep
    config.put(webhooks.ALLOW_INTERNAL.key, True)
    hook = webhooks.webhook_create(
        actor=admin,
        data={
            "name": "ERP",
            "url": "http://127.0.0.1:1/hook",
            "run_as": admin.pk,
            "events": ["customer.created", "customer.updated"],
        },
    )
    form = web_forms.web_form_create(actor=admin, data={"name": "官网留言", "source": "website"})
    lead = web_forms.web_form_submit(
        form_key=form.key,
        secret=form.secret,
        data={
            "company_name": OLD_NAME,
            "contact_name": PERSON,
            "mobile": MOBILE,
            "email": EMAIL,
            "need": f"{PERSON}想了解设备",
            "wechat_id": f"wx-{MOBILE}",
        },
        ip="127.0.0.1",
    )
    assert lead is not None
    lead_assignment.lead_assign(actor=admin, lead=lead, assignee=rep)
    lead.refresh_from_db()
    lead_assignment.lead_confirm(actor=rep, lead=lead)
    lead.refresh_from_db()
    lead = lead_convert.lead_convert(actor=rep, lead=lead, force=True)
    customer = Customer.objects.get(pk=lead.customer_id)
    customer = customers.customer_update(
        actor=rep,
        customer=customer,
        changes={"name": NAME, "notes": f"{PERSON}是采购负责人"},
        force=True,
    )
    person = Contact.objects.get(customer=customer, name=PERSON)
    customers.contact_update(actor=rep, contact=person, changes={"work_phone": WORK_PHONE})
    other = customers.contact_create(
        actor=rep,
        customer=customer,
        data={"name": OTHER, "mobile": OTHER_MOBILE, "email": OTHER_EMAIL},
        force=True,
    )
    customers.attachment_add(
        actor=rep, customer=customer, upload=_upload(f"{NAME}.png"), description=PERSON
    )
    followup = followups.followup_create(
        actor=rep,
        customer=customer,
        data={
            "method": "visit",
            "content": f"拜访{PERSON}，电话{MOBILE}",
            "contact": person.pk,
            "attachments": [_upload("现场.png")],
        },
    )
    followups.task_create(
        actor=rep,
        assignee=rep,
        title=f"回访{PERSON}",
        due_at=timezone.now() + datetime.timedelta(days=2),
        customer=customer,
        description=f"拨打{MOBILE}",
    )
    deal = deals.opportunity_create(
        actor=rep,
        customer=customer,
        data={"name": f"{NAME}设备采购", "amount": 100000, "needs": f"{PERSON}要求演示"},
    )
    deals.attachment_add(actor=rep, opportunity=deal, kind="proposal", file=_upload("方案.png"))
    contract = approved_contract(deal, terms=f"{PERSON}签字生效")
    record_payment(contract, amount=1000, note=f"{PERSON}经手")
    handover = handovers.handover_create(
        actor=rep,
        customer=customer,
        data={
            "needs": f"{PERSON}要求上门",
            "service_content": "电话支持",
            "response_hours": 4,
            "resolution_hours": 48,
            "contract_terms": "保密条款",
        },
    )
    handovers.handover_attachment_add(actor=rep, handover=handover, file=_upload("交接.png"))
    ticket = tickets.ticket_create(
        actor=admin,
        data={"subject": f"{NAME}设备报警", "content": f"{PERSON}来电", "assignee": admin.pk},
        channel="email",
        customer=customer,
        contact=person,
        requester_name=PERSON,
        requester_email=EMAIL,
        email_message_id="<alarm-1@example.cn>",
    )
    tickets.ticket_reply(actor=admin, ticket=ticket, body=f"{PERSON}您好，已安排工程师。")
    mailbox = Mailbox.objects.create(
        name="售后邮箱",
        host="127.0.0.1",
        username="support",
        password="x",
        address="support@example.cn",
        department=admin.department,
    )
    InboundEmail.objects.create(
        mailbox=mailbox,
        message_id="<alarm-1@example.cn>",
        sender=EMAIL,
        subject=f"{NAME}设备报警",
        ticket=ticket,
    )
    survey = surveys.survey_send(ticket)
    assert survey is not None
    assert survey.sent_to == EMAIL
    pool = pool_create(actor=admin, data={"name": "公海"})
    RevealLog.objects.create(
        user=org.colleague, contact=person, customer=customer, fields="mobile,email"
    )
    notify(recipients=[rep], kind="system", title=f"新客户{NAME}", body=f"联系人{PERSON}")
    ExternalId.objects.create(
        kind="customer", object_id=customer.pk, system="erp", external_id="E1"
    )
    ExternalId.objects.create(kind="contact", object_id=person.pk, system="erp", external_id="C1")
    SavedFilter.objects.create(user=rep, name="找他", query=f"q={PERSON}")
    # saved filters of the other lists share the table (a URL-quoted search, a custom filter)
    SavedFilter.objects.create(
        user=rep, list_name="leads", name="找他", query=urlencode({"q": PERSON})
    )
    SavedFilter.objects.create(
        user=rep, list_name="tickets", name="找他", query=urlencode({"cf": f"contact:{PERSON}"})
    )
    LogEntry.objects.log_actions(
        user_id=admin.pk, queryset=[customer], action_flag=CHANGE, change_message="edit"
    )
    # an import that updated the customer and whose error report names the contact
    rows = f"客户名称,联系人,手机\n{NAME},{PERSON},{MOBILE}\n,{OTHER},{OTHER_MOBILE}x\n"
    sheet = store_upload(name="upload.csv", chunks=[rows.encode("utf-8")])
    job = import_job_create(actor=admin, kind="customers", path=sheet, on_duplicate="update")
    import_job_start(actor=admin, job=job, dry_run=False)
    # an export that searched for the customer (the export log keeps the filter)
    response = api_client(admin).get(f"/api/v1/exports/customers?format=xlsx&q={NAME}")
    assert response.status_code == 200
    # a campaign send to both contacts, with consent and touches
    campaign = make_campaign(org.marketing)
    for contact in (person, other):
        Consent.objects.create(
            contact=contact,
            channel="email",
            status=ConsentStatus.GRANTED,
            source=ConsentSource.STAFF,
        )
        CampaignMember.objects.create(campaign=campaign, contact=contact, customer=customer)
    template = make_template(org.marketing)
    sends.send_create(actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk)
    Touch.objects.create(
        campaign=campaign, kind=TouchKind.MESSAGE, customer=customer, contact=person, detail=NAME
    )
    pool_put(actor=admin, customer_id=customer.pk, pool_id=pool.pk, reason=f"{PERSON}离职")
    del followup, hook
    return customer


def _kinds_present(customer: Customer) -> None:
    """The built customer really has every kind of row (so the zero hits mean something)."""
    assert Lead.objects.filter(customer=customer).exists()
    assert WebhookDelivery.objects.filter(body__contains=EMAIL).exists()
    assert Message.objects.filter(address=EMAIL).exists()
    assert ImportRecord.objects.filter(object_id=customer.pk).exists()
    assert customer.history.filter(name=OLD_NAME).exists()
    assert (Path(customer.attachments.get().file.path)).exists()
    hits = scan_tables(NEEDLES)
    for label in (
        "customers.Customer",
        "customers.HistoricalCustomer",
        "customers.Contact",
        "followups.FollowUp",
        "followups.Task",
        "opportunities.Opportunity",
        "service.Ticket",
        "service.TicketMessage",
        "service.Handover",
        "contracts.Contract",
        "contracts.Payment",
        "service.InboundEmail",
        "service.Survey",
        "leads.Lead",
        "leads.HistoricalLead",
        "notifications.Notification",
        "integrations.WebhookDelivery",
        "campaigns.Message",
        "transfer.ImportJob",
        "transfer.ExportLog",
        "customers.SavedFilter",
        "admin.LogEntry",
    ):
        assert any(hit.startswith(label + ".") for hit in hits), label
    assert scan_files(Path(customer.attachments.get().file.path).parents[3], NEEDLES)


@pytest.fixture
def sink(settings: Any) -> Iterator[Any]:
    with smtp_sink(settings) as running:
        yield running


def test_destroying_a_customer_leaves_no_trace(
    org: Organisation, data_dir: Path, sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        customer = build_customer(org, data_dir, sink)
    _kinds_present(customer)
    files = [Path(a.file.path) for a in customer.attachments.all()]
    assert all(path.exists() for path in files)
    with django_capture_on_commit_callbacks(execute=True):
        result = destroy_customers(
            [customer.pk], actor=org.admin, reason="retention", policy_key="churned_3y"
        )
    assert scan_tables(NEEDLES) == []
    assert scan_files(data_dir, NEEDLES) == []
    assert not any(path.exists() for path in files)
    assert customer_selectors.search(Customer.objects.all(), NAME).count() == 0
    assert customer_selectors.search(Customer.objects.all(), MOBILE).count() == 0
    # the tombstone: one run, one audit entry, counts per kind, no names
    run = DestructionRun.objects.get()
    assert (run.kind, run.policy_key, run.reason, run.subjects) == (
        "customers",
        "churned_3y",
        "retention",
        1,
    )
    assert run.counts["customers.customer"] == 1
    assert run.counts["customers.contact"] == 2
    assert run.counts["followups.followup"] == 1
    assert run.counts["service.ticket"] == 1
    assert run.counts["contracts.payment"] == 1
    assert run.counts["service.handover"] == 1
    assert run.counts["files"] == result.files_removed >= 5
    entry = AuditEntry.objects.get(action="governance.destruction")
    assert entry.seq == result.audit_seq == run.audit_seq
    assert entry.actor_id == org.admin.pk
    assert entry.details["counts"] == run.counts
    assert (entry.target_type, entry.target_id) == ("governance.destructionrun", str(run.pk))


def test_legal_hold_refuses_the_whole_call(org: Organisation) -> None:
    held = make_customer(org.rep, name=NAME)
    free = make_customer(org.rep)

    holds.hold_set(actor=org.admin, customer_id=held.pk, reason="诉讼保全")
    assert holds.is_held(held.pk)
    assert not holds.is_held(free.pk)
    with pytest.raises(Conflict) as refused:
        destroy_customers([free.pk, held.pk], actor=org.admin, reason="retention")
    assert refused.value.code == "legal_hold"
    assert refused.value.extra == {"held": [held.pk]}
    assert Customer.objects.filter(pk__in=[held.pk, free.pk]).count() == 2
    assert not DestructionRun.objects.exists()
    assert not AuditEntry.objects.filter(action="governance.destruction").exists()


def test_bad_calls_are_refused_and_change_nothing(org: Organisation) -> None:
    customer = make_customer(org.rep)
    with pytest.raises(Forbidden):
        destroy_customers([customer.pk], actor=org.east_manager, reason="retention")
    with pytest.raises(InvalidInput) as no_reason:
        destroy_customers([customer.pk], actor=org.admin, reason="  ")
    assert "reason" in no_reason.value.errors
    with pytest.raises(InvalidInput):
        destroy_customers([customer.pk], actor=org.admin, reason="x" * 201)
    with pytest.raises(InvalidInput):
        destroy_customers([], actor=org.admin, reason="retention")
    with pytest.raises(NotFound):
        destroy_customers([customer.pk, customer.pk + 1000], actor=org.admin, reason="r")
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert not DestructionRun.objects.exists()


def test_destroy_contact_erases_the_person_and_keeps_the_customer(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    form = web_forms.web_form_create(
        actor=org.admin, data={"name": "官网留言", "source": "website"}
    )
    lead = web_forms.web_form_submit(
        form_key=form.key,
        secret=form.secret,
        data={
            "company_name": NAME,
            "contact_name": PERSON,
            "mobile": MOBILE,
            "email": EMAIL,
            "wechat_id": f"wx-{MOBILE}",  # kept in the lead's extra fields (JSON)
        },
        ip="127.0.0.1",
    )
    assert lead is not None
    lead_assignment.lead_assign(actor=org.admin, lead=lead, assignee=org.rep)
    lead.refresh_from_db()
    lead_assignment.lead_confirm(actor=org.rep, lead=lead)
    lead.refresh_from_db()
    lead = lead_convert.lead_convert(actor=org.rep, lead=lead, force=True)
    customer = Customer.objects.get(pk=lead.customer_id)
    customers.contact_create(
        actor=org.rep, customer=customer, data={"name": OTHER, "mobile": OTHER_MOBILE}, force=True
    )
    person = Contact.objects.get(customer=customer, name=PERSON)
    with django_capture_on_commit_callbacks(execute=True):
        followups.followup_create(
            actor=org.rep,
            customer=customer,
            data={"method": "phone", "content": f"致电{PERSON}（{MOBILE}）", "contact": person.pk},
        )
        ticket = tickets.ticket_create(
            actor=org.admin,
            data={"subject": "设备报警", "content": f"{PERSON}报修，邮箱{EMAIL}"},
            channel="ui",
            customer=customer,
            contact=person,
            requester_name=PERSON,
            requester_email=EMAIL,
        )
        notify(recipients=[org.rep], kind="system", title=f"{PERSON}来电")
    ExternalId.objects.create(kind="contact", object_id=person.pk, system="erp", external_id="C9")
    with django_capture_on_commit_callbacks(execute=True):
        result = destroy_contact(person, actor=org.admin, reason=f"PIPL 删除请求 {PERSON}")
    person_needles = [PERSON, MOBILE, EMAIL]
    assert scan_tables(person_needles) == []
    customer.refresh_from_db()
    assert customer.name == NAME  # the company stays a customer
    assert Contact.objects.filter(customer=customer, name=OTHER).exists()
    assert OTHER in customer.search_text
    assert PERSON not in customer.search_text
    ticket.refresh_from_db()
    assert ticket.requester_name == "***"
    assert ticket.contact_id is None
    assert "***" in ticket.content
    assert not ExternalId.objects.filter(kind="contact").exists()
    lead.refresh_from_db()  # the converted lead stays with the customer, without the person
    assert (lead.contact_name, lead.mobile, lead.company_name) == ("***", "***", NAME)
    run = DestructionRun.objects.get(pk=result.run_id)
    assert run.kind == "contact"
    assert run.subjects == 1
    assert run.reason == "PIPL 删除请求 ***"  # the tombstone does not name the person
    assert AuditEntry.objects.filter(action="governance.destruction").count() == 1


def test_destroy_lead_erases_a_web_form_submission(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    form = web_forms.web_form_create(
        actor=org.admin, data={"name": "官网留言", "source": "website"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        lead = web_forms.web_form_submit(
            form_key=form.key,
            secret=form.secret,
            data={
                "company_name": OLD_NAME,
                "contact_name": PERSON,
                "mobile": MOBILE,
                "email": EMAIL,
                "need": f"请{PERSON}回电",
            },
            ip="127.0.0.1",
        )
        assert lead is not None
        lead_assignment.lead_assign(actor=org.admin, lead=lead, assignee=org.rep)
    assert scan_tables([PERSON, MOBILE, EMAIL])  # the lead, its history, maybe a notification
    with django_capture_on_commit_callbacks(execute=True):
        result = destroy_lead(lead, actor=org.admin, reason="PIPL #7")
    assert scan_tables([PERSON, MOBILE, EMAIL, OLD_NAME]) == []
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert result.counts["leads.lead"] == 1
    assert result.counts.get("leads.historicallead", 0) >= 1
    with pytest.raises(NotFound):
        destroy_lead(lead, actor=org.admin, reason="again")
    assert ContentType.objects.get_for_model(Lead)  # nothing else was touched


@pytest.mark.parametrize("kind", ["xlsx", "csv-gb18030"])
def test_an_uploaded_sheet_is_rewritten_cell_by_cell(tmp_path: Path, kind: str) -> None:
    """Phones typed as numbers in XLSX, GBK-encoded CSV: the values go, the rows stay."""
    from openpyxl import Workbook, load_workbook

    from kehu.governance.services.destruction import Needles, _scrub_sheet

    needles = Needles([PERSON, "+86" + MOBILE, EMAIL])
    rows = [
        ["客户名称", "联系人", "手机"],
        [NAME, f"{PERSON}（采购）", int(MOBILE)],
        ["别家", "张三", 1],
    ]
    if kind == "xlsx":
        path = tmp_path / "sheet.xlsx"
        workbook = Workbook()
        for row in rows:
            workbook.active.append(row)
        workbook.save(path)
        assert _scrub_sheet(path, needles, "")
        values = [[c.value for c in row] for row in load_workbook(path).active.iter_rows()]
    else:
        path = tmp_path / "sheet.csv"
        path.write_bytes(
            "\r\n".join(",".join(str(v) for v in row) for row in rows).encode("gb18030")
        )
        assert _scrub_sheet(path, needles, "gb18030")
        values = [line.split(",") for line in path.read_bytes().decode("gb18030").splitlines()]
        rows = [[str(v) for v in row] for row in rows]
    assert values[1] == [NAME, "***（采购）", "***"]
    assert values[2] == rows[2]
    assert not _scrub_sheet(path, needles, "gb18030" if kind != "xlsx" else "")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="an SQLite setting")
def test_sqlite_overwrites_what_it_deletes(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleted rows would stay readable in the database file's free pages: the destruction
    runs with secure_delete (seen from inside the transaction) and turns it off afterwards."""

    def secure_delete() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete")
            return int(cursor.fetchone()[0])

    seen: list[int] = []

    def check(ids: list[int]) -> set[int]:  # the hold check runs inside the destruction
        seen.append(secure_delete())
        return set()

    customer = make_customer(org.rep, name=NAME)
    monkeypatch.setattr(holds, "held_ids", check)
    destroy_customers([customer.pk], actor=org.admin, reason="retention")
    assert seen == [1]
    assert secure_delete() == 0


def test_a_failed_destruction_leaves_rows_and_files_as_they_were(
    org: Organisation,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    customer = make_customer(org.rep, name=NAME, contacts=[{"name": PERSON, "mobile": MOBILE}])
    rows = f"客户名称,联系人,手机\n{NAME},{PERSON},{MOBILE}\n,{PERSON},{MOBILE}x\n"
    sheet = store_upload(name="upload.csv", chunks=[rows.encode("utf-8")])
    job = import_job_create(actor=org.admin, kind="customers", path=sheet)
    import_job_start(actor=org.admin, job=job, dry_run=True)
    files = sorted(path for path in data_dir.rglob("*") if path.is_file())
    before = {path: path.read_bytes() for path in files}
    assert any(PERSON.encode() in data for data in before.values())

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr("kehu.governance.services.destruction.audit.record", broken)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        destroy_customers([customer.pk], actor=org.admin, reason="retention")
    assert Customer.objects.filter(pk=customer.pk, name=NAME).exists()
    assert Contact.objects.filter(customer=customer, name=PERSON).exists()
    after = sorted(path for path in data_dir.rglob("*") if path.is_file())
    assert after == files  # no rewritten copy left beside them
    assert {path: path.read_bytes() for path in after} == before
    assert not DestructionRun.objects.exists()
