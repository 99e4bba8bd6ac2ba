"""Personal-data requests (PIPL): deadlines on the China calendar, the copy of everything held
about a person, correction through the record's own services, erasure, refusal, the audit."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from kehu.campaigns.models import Channel
from kehu.campaigns.services import consent as consent_services
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.models import AuditEntry
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Contact
from kehu.governance.models import RequestStatus, SubjectRequest
from kehu.governance.selectors import requests as selectors
from kehu.governance.services import requests as services
from kehu.governance.tests.requests_support import make_lead, make_person
from kehu.leads import services as lead_services
from kehu.leads.models import Lead
from kehu.service.models import CalendarEntry
from kehu.service.services import calendar

pytestmark = pytest.mark.django_db


def new_request(org: Organisation, kind: str, subject: Contact | Lead) -> SubjectRequest:
    return services.request_create(
        actor=org.admin,
        kind=kind,
        subject_type="contact" if isinstance(subject, Contact) else "lead",
        subject_id=subject.pk,
    )


# --- the deadline ------------------------------------------------------------------------------


def test_the_deadline_is_fifteen_working_days_on_the_china_calendar(org: Organisation) -> None:
    CalendarEntry.objects.all().delete()
    calendar.calendar_entry_create(
        actor=org.admin,
        data={"name": "国庆节", "kind": "holiday", "start": "2026-10-01", "end": "2026-10-07"},
    )
    calendar.calendar_entry_create(
        actor=org.admin,
        data={"name": "国庆调休", "kind": "workday", "start": "2026-10-10", "end": "2026-10-10"},
    )
    # Mon 28 Sep: 29, 30 Sep; the holiday week; 8, 9, Sat 10 (调休), 12–16, 19–23 Oct
    assert services.deadline_for(date(2026, 9, 28)) == date(2026, 10, 23)
    # an ordinary fortnight: three weeks of weekdays
    assert services.deadline_for(date(2026, 11, 2)) == date(2026, 11, 23)


def test_a_request_is_logged_with_its_deadline_and_audited(org: Organisation) -> None:
    person = make_person(org)
    with time_machine.travel("2026-11-02 10:00 +0800", tick=False):
        made = new_request(org, "access", person.contact)
    assert made.status == RequestStatus.OPEN
    assert made.received_on == date(2026, 11, 2)
    assert made.deadline == services.deadline_for(date(2026, 11, 2))
    assert (made.subject_type, made.subject_id, made.contact) == (
        "contact",
        person.contact.pk,
        person.contact,
    )
    entry = AuditEntry.objects.get(action="governance.request_created")
    assert entry.actor_id == org.admin.pk
    assert (entry.target_type, entry.target_id) == ("governance.subjectrequest", str(made.pk))
    assert entry.details["subject_id"] == person.contact.pk


def test_bad_requests_are_refused_and_write_nothing(org: Organisation) -> None:
    person = make_person(org)
    with pytest.raises(Forbidden):
        services.request_create(
            actor=org.east_manager,
            kind="access",
            subject_type="contact",
            subject_id=person.contact.pk,
        )
    with pytest.raises(InvalidInput) as raised:
        services.request_create(
            actor=org.admin,
            kind="forget",
            subject_type="contact",
            subject_id=person.contact.pk,
            received_on=date(2999, 1, 1),
        )
    assert set(raised.value.errors) == {"kind", "received_on"}
    with pytest.raises(NotFound):
        services.request_create(
            actor=org.admin, kind="access", subject_type="lead", subject_id=person.contact.pk + 999
        )
    assert not SubjectRequest.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="governance.request").exists()


# --- the copy of the person's data ---------------------------------------------------------------


def test_the_export_holds_every_kind_of_row_about_the_contact(org: Organisation) -> None:
    person = make_person(org)
    made = new_request(org, "access", person.contact)
    data = selectors.as_json(made, selectors.person_data(user=org.admin, request=made))
    sections = data["sections"]
    assert sections["subject"][0]["name"] == person.name
    assert sections["subject"][0]["mobile"] == person.mobile
    assert sections["customer"] == [
        {"id": person.customer.pk, "number": person.customer.number, "name": person.customer.name}
    ]
    assert [row["content"] for row in sections["followups"]] == ["第0次电话沟通报价"]
    assert [row["subject"] for row in sections["tickets"]] == ["设备故障0"]
    assert len(sections["campaign_memberships"]) == 1
    assert sections["campaign_memberships"][0]["campaign_name"].startswith("展会")
    assert [row["address"] for row in sections["campaign_messages"]] == [person.email]
    assert [row["status"] for row in sections["consents"]] == ["withdrawn"]
    assert [row["status"] for row in sections["consent_changes"]] == ["granted", "withdrawn"]
    assert sections["touches"]
    assert next(row["external_id"] for row in sections["external_ids"]).startswith("C-")
    assert sections["history"][0]["history_type"] == "+"
    assert sections["history"][0]["name"] == person.name
    json.dumps(data)  # plain JSON all through


def test_the_export_is_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: object
) -> None:
    few, many = make_person(org, rows=1), make_person(org, rows=4)
    small, large = new_request(org, "access", few.contact), new_request(org, "access", many.contact)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        selectors.person_data(user=org.admin, request=small)
    with CaptureQueriesContext(connection) as second:
        parts = selectors.person_data(user=org.admin, request=large)
    assert len(first) == len(second) <= 16
    assert len({part.key: part for part in parts}["tickets"].rows) == 4


def test_the_lead_export_and_its_consent(org: Organisation) -> None:
    lead = make_lead()
    consent_services.consent_record(
        None, lead=lead, channel=Channel.SMS, status="granted", source="web_form"
    )
    made = new_request(org, "access", lead)
    sections = selectors.as_json(made, selectors.person_data(user=org.admin, request=made))[
        "sections"
    ]
    assert sections["subject"][0]["contact_name"] == lead.contact_name
    assert [row["channel"] for row in sections["consents"]] == ["sms"]
    assert sections["lead_events"]
    assert sections["history"]


def test_the_api_exports_json_and_xlsx_and_audits_each_copy(org: Organisation) -> None:
    person = make_person(org)
    made = new_request(org, "access", person.contact)
    api = api_client(org.admin)
    response = api.get(f"/api/v1/personal-data-requests/{made.pk}/export.json")
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'kehu-pipl-{made.pk}.json"')
    assert json.loads(response.content)["sections"]["subject"][0]["email"] == person.email
    response = api.get(f"/api/v1/personal-data-requests/{made.pk}/export.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert len(workbook.sheetnames) >= 10
    subject = workbook.worksheets[1]
    values = [cell.value for cell in subject[2]]
    assert person.name in values
    assert person.mobile in values
    exported = AuditEntry.objects.filter(action="governance.request_exported")
    assert sorted(e.details["format"] for e in exported) == ["json", "xlsx"]


# --- correction -------------------------------------------------------------------------------


def test_a_correction_goes_through_the_contact_service_and_names_the_request(
    org: Organisation,
) -> None:
    person = make_person(org)
    made = new_request(org, "correction", person.contact)
    done = services.request_complete(
        actor=org.admin,
        request=made,
        version=made.version,
        changes={"name": "欧阳丽娜", "email": "lina@example.cn"},
    )
    assert done.status == RequestStatus.DONE
    assert done.handled_by == org.admin
    contact = Contact.objects.get(pk=person.contact.pk)
    assert (contact.name, contact.email) == ("欧阳丽娜", "lina@example.cn")
    latest = contact.history.latest("history_date")
    assert f"#{made.pk}" in latest.history_change_reason
    entry = AuditEntry.objects.get(action="governance.request_completed")
    assert entry.details["fields"] == ["email", "name"]
    assert "欧阳丽娜" not in json.dumps(entry.details, ensure_ascii=False)


def test_a_bad_correction_writes_nothing(org: Organisation) -> None:
    person = make_person(org)
    made = new_request(org, "correction", person.contact)
    with pytest.raises(InvalidInput) as raised:
        services.request_complete(actor=org.admin, request=made, changes={"customer": 1})
    assert "customer" in raised.value.errors
    with pytest.raises(InvalidInput) as raised:
        services.request_complete(actor=org.admin, request=made, changes={"email": "not-an-email"})
    assert "email" in raised.value.errors
    with pytest.raises(InvalidInput):
        services.request_complete(actor=org.admin, request=made, changes={})
    made.refresh_from_db()
    assert made.status == RequestStatus.OPEN
    assert Contact.objects.get(pk=person.contact.pk).email == person.email
    assert not AuditEntry.objects.filter(action="governance.request_completed").exists()


def test_a_lead_correction_through_the_api(org: Organisation) -> None:
    lead = make_lead()
    made = new_request(org, "correction", lead)
    api = api_client(org.admin)
    response = api.post(
        f"/api/v1/personal-data-requests/{made.pk}/complete",
        {"version": made.version, "changes": {"contact_name": "司马刚"}},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done"
    lead.refresh_from_db()
    assert lead.contact_name == "司马刚"
    assert f"#{made.pk}" in lead.history.latest("history_date").history_change_reason
    response = api.post(
        f"/api/v1/personal-data-requests/{made.pk}/complete",
        {"changes": {"contact_name": "x"}},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "request_closed"


# --- erasure and refusal -----------------------------------------------------------------------


def test_an_erasure_destroys_the_person_and_keeps_the_request(org: Organisation) -> None:
    person = make_person(org)
    made = new_request(org, "erasure", person.contact)
    services.request_complete(actor=org.admin, request=made, version=made.version)
    assert not Contact.objects.filter(pk=person.contact.pk).exists()
    made.refresh_from_db()
    assert made.status == RequestStatus.DONE
    assert made.contact is None
    assert made.subject_id == person.contact.pk
    tombstone = AuditEntry.objects.get(action="governance.destruction")
    assert tombstone.details["reason"] == f"pipl_request:{made.pk}"
    assert AuditEntry.objects.filter(action="governance.request_completed").count() == 1
    # nothing of the person in the audit trail
    trail = json.dumps(
        list(AuditEntry.objects.values("actor_name", "target_id", "details")), ensure_ascii=False
    )
    for value in (person.name, person.mobile, person.email):
        assert value not in trail
    # a second request about the erased person finds no one
    with pytest.raises(NotFound):
        new_request(org, "access", person.contact)


def test_an_erasure_of_a_lead_through_the_api(org: Organisation) -> None:
    lead = make_lead()
    made = new_request(org, "erasure", lead)
    response = api_client(org.admin).post(
        f"/api/v1/personal-data-requests/{made.pk}/complete", {}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["subject_exists"] is False
    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_refusing_needs_a_reason_and_closes_the_request(org: Organisation) -> None:
    person = make_person(org)
    made = new_request(org, "erasure", person.contact)
    api = api_client(org.admin)
    url = f"/api/v1/personal-data-requests/{made.pk}/refuse"
    response = api.post(url, {"reason": "  "}, content_type="application/json")
    assert response.status_code == 422
    assert "reason" in response.json()["errors"]
    response = api.post(
        url,
        {"reason": "无法核实身份", "version": made.version + 5},
        content_type="application/json",
    )
    assert response.status_code == 409
    response = api.post(url, {"reason": "无法核实身份"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "refused"
    assert Contact.objects.filter(pk=person.contact.pk).exists()
    with pytest.raises(Conflict):
        services.request_complete(actor=org.admin, request=made)
    assert AuditEntry.objects.filter(action="governance.request_refused").count() == 1


# --- the list ----------------------------------------------------------------------------------


def test_the_list_puts_open_requests_by_deadline_first_and_marks_overdue(
    org: Organisation, django_assert_max_num_queries: object
) -> None:
    person = make_person(org)
    with time_machine.travel("2026-10-01 10:00 +0800", tick=False):
        old = new_request(org, "access", person.contact)
    with time_machine.travel("2026-12-07 10:00 +0800", tick=False):
        fresh = new_request(org, "correction", person.contact)
        answered = new_request(org, "erasure", person.contact)
        services.request_refuse(actor=org.admin, request=answered, reason="重复请求")
        api = api_client(org.admin)
        with django_assert_max_num_queries(8):  # type: ignore[operator]
            body = api.get("/api/v1/personal-data-requests").json()
        assert [item["id"] for item in body["items"]] == [old.pk, fresh.pk, answered.pk]
        assert [item["overdue"] for item in body["items"]] == [True, False, False]
        body = api.get("/api/v1/personal-data-requests?overdue=true").json()
        assert [item["id"] for item in body["items"]] == [old.pk]
        assert api.get("/api/v1/personal-data-requests?status=nope").status_code == 422
        assert api_client(org.rep).get("/api/v1/personal-data-requests").status_code == 403


def test_create_through_the_api(org: Organisation) -> None:
    person = make_person(org)
    api = api_client(org.admin)
    response = api.post(
        "/api/v1/personal-data-requests",
        {"kind": "access", "subject_type": "contact", "subject_id": person.contact.pk},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["deadline"] > response.json()["received_on"]
    response = api.post(
        "/api/v1/personal-data-requests",
        {"kind": "access", "subject_type": "contact", "subject_id": 10**6},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_pages_are_for_administrators(org: Organisation) -> None:
    person = make_person(org)
    made = new_request(org, "access", person.contact)
    client = Client()
    client.force_login(org.rep)
    assert client.get(reverse("governance:requests")).status_code == 403
    client.force_login(org.admin)
    assert client.get(reverse("governance:requests")).status_code == 200
    assert client.get(reverse("governance:request", args=[made.pk])).status_code == 200


def test_the_pages_log_correct_and_refuse(org: Organisation) -> None:
    person = make_person(org)
    client = Client()
    client.force_login(org.admin)
    page = client.get(f"{reverse('governance:request_new')}?contact={person.contact.pk}")
    assert page.status_code == 200
    assert person.name in page.content.decode()
    response = client.post(
        reverse("governance:request_new"),
        {"contact": person.contact.pk, "kind": "correction", "received_on": "2999-01-01"},
    )
    assert response.status_code == 200  # the form again, with the error
    assert not SubjectRequest.objects.exists()
    response = client.post(
        reverse("governance:request_new"),
        {
            "contact": person.contact.pk,
            "kind": "correction",
            "received_on": date.today().isoformat(),
        },
    )
    made = SubjectRequest.objects.get()
    assert response["Location"] == reverse("governance:request", args=[made.pk])
    detail = client.get(response["Location"]).content.decode()
    assert person.email in detail  # the correction form shows the current values
    form = {"version": made.version, "name": person.name, "email": "bad", "title": "采购经理"}
    response = client.post(reverse("governance:request_complete", args=[made.pk]), form)
    assert response.status_code == 422
    assert Contact.objects.get(pk=person.contact.pk).email == person.email
    form["email"] = "ouyang.new@example.cn"
    response = client.post(reverse("governance:request_complete", args=[made.pk]), form)
    assert response.status_code == 302
    assert Contact.objects.get(pk=person.contact.pk).email == "ouyang.new@example.cn"
    other = new_request(org, "access", person.contact)
    response = client.post(
        reverse("governance:request_refuse", args=[other.pk]),
        {"version": other.version, "reason": ""},
    )
    other.refresh_from_db()
    assert other.status == RequestStatus.OPEN
    xlsx = client.get(reverse("governance:request_export_xlsx", args=[other.pk]))
    assert xlsx["Content-Type"] == selectors.XLSX_TYPE
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[1]


def test_the_customer_page_card_and_the_lead_page_link(org: Organisation) -> None:
    person = make_person(org)
    made = new_request(org, "access", person.contact)
    lead = make_lead()
    client = Client()
    client.force_login(org.admin)
    card = client.get(
        reverse("customers:tab", args=[person.customer.pk, "personal-data-requests"])
    ).content.decode()
    assert f"?contact={person.contact.pk}" in card
    assert reverse("governance:request", args=[made.pk]) in card
    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert f"{reverse('governance:request_new')}?lead={lead.pk}" in page
    lead_services.lead_assign(actor=org.admin, lead=lead, assignee=org.rep)
    client.force_login(org.rep)
    page = client.get(reverse("leads:detail", args=[lead.pk]))
    assert page.status_code == 200
    assert reverse("governance:request_new") not in page.content.decode()
