"""Recording consent: the service's rules (withdrawal honoured forever, who may re-grant),
the API (a person's consents, bulk rows), the CSV/XLSX upload, the customer page's card,
and the web form's consent checkbox."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kehu.campaigns.models import Channel, Consent, ConsentChange, ConsentSource, ConsentStatus
from kehu.campaigns.services import consent as services
from kehu.campaigns.services.consent import consent_record
from kehu.campaigns.tests.consent_support import make_contact, make_lead
from kehu.core.errors import InvalidInput, NotFound
from kehu.core.testing.factories import Organisation, api_client

EMAIL = Channel.EMAIL


def _withdraw(person: dict[str, Any]) -> None:
    consent_record(
        None,
        channel=EMAIL,
        status=ConsentStatus.WITHDRAWN,
        source=ConsentSource.UNSUBSCRIBE_LINK,
        **person,
    )


def test_record_writes_consent_and_change(org: Organisation) -> None:
    contact = make_contact(org)
    consent = consent_record(
        org.marketing,
        contact=contact,
        channel=EMAIL,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.STAFF,
        note="展会现场签字",
    )
    assert (consent.status, consent.source, consent.contact_id) == ("granted", "staff", contact.pk)
    change = ConsentChange.objects.get(consent=consent)
    assert (change.status, change.note, change.changed_by) == (
        "granted",
        "展会现场签字",
        org.marketing,
    )
    # The same status again changes nothing
    consent_record(
        org.rep, contact=contact, channel=EMAIL, status="granted", source=ConsentSource.API
    )
    assert ConsentChange.objects.filter(consent=consent).count() == 1


@pytest.mark.parametrize("source", [ConsentSource.IMPORT, ConsentSource.API, ConsentSource.REPLY])
def test_a_withdrawal_is_honoured_against_imports_and_the_api(
    org: Organisation, source: str
) -> None:
    contact = make_contact(org)
    consent_record(org.marketing, contact=contact, channel=EMAIL, status="granted", source="import")
    _withdraw({"contact": contact})
    with pytest.raises(InvalidInput) as refused:
        consent_record(
            org.marketing, contact=contact, channel=EMAIL, status="granted", source=source
        )
    assert refused.value.code == "consent_withdrawn"
    assert "status" in refused.value.errors
    assert Consent.objects.get(contact=contact).status == "withdrawn"


def test_staff_regrant_needs_a_reason_and_stays_guarded(org: Organisation) -> None:
    contact = make_contact(org)
    _withdraw({"contact": contact})
    with pytest.raises(InvalidInput):
        consent_record(org.rep, contact=contact, channel=EMAIL, status="granted", source="staff")
    consent_record(
        org.rep,
        contact=contact,
        channel=EMAIL,
        status="granted",
        source="staff",
        note="客户来电要求恢复订阅",
    )
    assert Consent.objects.get(contact=contact).status == "granted"
    # Once withdrawn, always guarded: an import still cannot grant after another withdrawal
    consent_record(org.rep, contact=contact, channel=EMAIL, status="withdrawn", source="reply")
    with pytest.raises(InvalidInput):
        consent_record(org.rep, contact=contact, channel=EMAIL, status="granted", source="import")


def test_users_cannot_claim_the_persons_own_sources(org: Organisation) -> None:
    contact = make_contact(org)
    for source in (ConsentSource.WEB_FORM, ConsentSource.UNSUBSCRIBE_LINK):
        with pytest.raises(InvalidInput) as refused:
            consent_record(
                org.marketing, contact=contact, channel=EMAIL, status="granted", source=source
            )
        assert "source" in refused.value.errors
    assert not Consent.objects.exists()


def test_bad_values_name_the_field(org: Organisation) -> None:
    contact = make_contact(org)
    cases = [
        ({"channel": "fax", "status": "granted", "source": "staff"}, "channel"),
        ({"channel": "email", "status": "maybe", "source": "staff"}, "status"),
        ({"channel": "email", "status": "granted", "source": "rumour"}, "source"),
        ({"channel": "email", "status": "granted", "source": "staff", "note": "长" * 301}, "note"),
    ]
    for values, field in cases:
        with pytest.raises(InvalidInput) as refused:
            consent_record(org.rep, contact=contact, **values)
        assert field in refused.value.errors
    assert not Consent.objects.exists()


def test_out_of_scope_is_not_found(org: Organisation) -> None:
    contact = make_contact(org)
    with pytest.raises(NotFound):
        consent_record(
            org.south_rep, contact=contact, channel=EMAIL, status="granted", source="staff"
        )
    assert not Consent.objects.exists()


# --- API ----------------------------------------------------------------------------------------


def test_api_lists_a_persons_consents_with_changes(org: Organisation) -> None:
    contact = make_contact(org)
    consent_record(org.rep, contact=contact, channel=EMAIL, status="granted", source="staff")
    _withdraw({"contact": contact})
    consent_record(org.rep, contact=contact, channel="sms", status="granted", source="import")
    answer = api_client(org.marketing).get(f"/api/v1/consents?contact={contact.pk}")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["count"] == 2
    email, sms = body["items"]
    assert (email["channel"], email["status"], email["source"]) == (
        "email",
        "withdrawn",
        "unsubscribe_link",
    )
    assert [c["status"] for c in email["changes"]] == ["withdrawn", "granted"]
    assert (sms["channel"], sms["status"]) == ("sms", "granted")
    assert (
        api_client(org.south_rep).get(f"/api/v1/consents?contact={contact.pk}").status_code == 404
    )
    assert api_client(org.rep).get("/api/v1/consents").status_code == 422


def test_api_bulk_records_rows_and_reports_each(org: Organisation) -> None:
    mine = make_contact(org)
    withdrawn = make_contact(org)
    _withdraw({"contact": withdrawn})
    lead = make_lead(org, actor=org.rep)  # the rep's own lead
    theirs = make_contact(org, owner=org.south_rep)
    items = [
        {"email": mine.email.upper(), "channel": "email", "status": "granted"},
        {"mobile": mine.mobile.removeprefix("+86"), "channel": "sms", "status": "granted"},
        {"lead_id": lead.pk, "channel": "email", "status": "granted", "source": "import"},
        {"contact_id": withdrawn.pk, "channel": "email", "status": "granted"},
        {"email": theirs.email, "channel": "email", "status": "granted"},
        {"email": "not-an-address", "channel": "email", "status": "granted"},
        {"email": mine.email, "channel": "fax", "status": "granted"},
        {"email": mine.email, "contact_id": mine.pk, "channel": "email", "status": "granted"},
        {"email": mine.email, "channel": "email", "status": "granted"},
    ]
    answer = api_client(org.rep).post(
        "/api/v1/consents", {"items": items}, content_type="application/json"
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert [row["result"] for row in body["rows"]] == [
        "recorded",
        "recorded",
        "recorded",
        "error",
        "error",
        "error",
        "error",
        "error",
        "unchanged",
    ]
    errors = [sorted(row["errors"]) for row in body["rows"]]
    assert errors[3] == ["status"]
    assert errors[4] == ["email"]
    assert errors[5] == ["email"]
    assert errors[6] == ["channel"]
    assert errors[7] == ["contact_id"]
    assert (body["recorded"], body["unchanged"], body["errors"]) == (3, 1, 5)
    assert Consent.objects.get(contact=mine, channel="email").source == "api"
    assert Consent.objects.get(contact=mine, channel="sms").status == "granted"
    assert Consent.objects.get(lead=lead).source == "import"
    assert Consent.objects.get(contact=withdrawn).status == "withdrawn"
    assert not Consent.objects.filter(contact=theirs).exists()


def test_api_bulk_refuses_more_than_1000_rows(org: Organisation) -> None:
    items = [
        {"email": f"x{i}@example.cn", "channel": "email", "status": "granted"} for i in range(1001)
    ]
    answer = api_client(org.rep).post(
        "/api/v1/consents", {"items": items}, content_type="application/json"
    )
    assert answer.status_code == 422
    assert not Consent.objects.exists()


# --- Upload -------------------------------------------------------------------------------------


def _xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def test_upload_csv_gbk_and_xlsx(org: Organisation) -> None:
    first, second = make_contact(org), make_contact(org)
    text = f"邮箱,渠道,状态,备注\n{first.email},email,granted,展会\nbad,email,granted,\n".encode(
        "gbk"
    )
    answer = api_client(org.marketing).post(
        "/api/v1/consents/import",
        {"file": SimpleUploadedFile("c.csv", text, "text/csv"), "source": "import"},
    )
    assert answer.status_code == 200, answer.content
    rows = answer.json()["rows"]
    assert [(r["row"], r["result"]) for r in rows] == [(2, "recorded"), (3, "error")]
    assert list(rows[1]["errors"]) == ["email"]
    assert rows[1]["errors"]["email"][0].startswith("bad ")
    assert Consent.objects.get(contact=first).source == "import"

    data = _xlsx([["mobile", "channel", "status"], [second.mobile, "sms", "withdrawn"]])
    answer = api_client(org.marketing).post(
        "/api/v1/consents/import",
        {"file": SimpleUploadedFile("c.xlsx", data), "source": "reply"},
    )
    assert answer.json()["recorded"] == 1
    consent = Consent.objects.get(contact=second, channel="sms")
    assert (consent.status, consent.source) == ("withdrawn", "reply")


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("c.txt", b"email\n", "file"),
        ("c.xlsx", b"PK\x03\x04not really a workbook", "file"),
        ("c.csv", b"name,channel\nx,email\n", "file"),
        ("c.csv", b"<html><script>alert(1)</script>", "file"),
    ],
)
def test_upload_refuses_bad_files(
    org: Organisation, name: str, content: bytes, problem: str
) -> None:
    answer = api_client(org.marketing).post(
        "/api/v1/consents/import", {"file": SimpleUploadedFile(name, content)}
    )
    assert answer.status_code == 422, answer.content
    assert problem in answer.json()["errors"]
    assert not Consent.objects.exists()


def test_upload_page_shows_row_errors(org: Organisation) -> None:
    contact = make_contact(org)
    client = Client()
    client.force_login(org.marketing)
    assert client.get("/marketing/consents/import/").status_code == 200
    text = f"email,channel,status\n{contact.email},email,granted\n{contact.email},sms,perhaps\n"
    answer = client.post(
        "/marketing/consents/import/",
        {"file": SimpleUploadedFile("c.csv", text.encode()), "source": "import"},
    )
    assert answer.status_code == 200
    assert b'id="consent-import-result"' in answer.content
    assert b"table-danger" in answer.content
    assert b"perhaps" in answer.content
    assert Consent.objects.get(contact=contact).status == "granted"


# --- The customer page's card -------------------------------------------------------------------


def test_customer_card_shows_and_records_consent(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    contact = make_contact(org)
    make_contact(org)
    consent_record(org.rep, contact=contact, channel="sms", status="granted", source="staff")
    client = Client()
    client.force_login(org.marketing)
    url = f"/customers/{contact.customer_id}/tabs/consent/"
    answer = client.get(url)
    assert answer.status_code == 200, answer.content
    assert b'id="customer-consent"' in answer.content
    assert f'id="consent-contact-{contact.pk}"'.encode() in answer.content
    # htmx post re-renders the card
    answer = client.post(
        f"/marketing/consents/contact/{contact.pk}/",
        {"channel": "email", "status": "withdrawn", "note": "电话要求"},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200
    assert b'id="customer-consent"' in answer.content
    consent = Consent.objects.get(contact=contact, channel="email")
    assert (consent.status, consent.source) == ("withdrawn", "staff")
    # a re-grant without a reason is shown as the card's error, nothing changed
    answer = client.post(
        f"/marketing/consents/contact/{contact.pk}/",
        {"channel": "email", "status": "granted", "note": ""},
        HTTP_HX_REQUEST="true",
    )
    assert b'id="consent-error"' in answer.content
    assert Consent.objects.get(contact=contact, channel="email").status == "withdrawn"


def test_customer_card_queries_do_not_grow(
    org: Organisation, django_assert_num_queries: Any
) -> None:
    from kehu.campaigns.sections import customer_consent
    from kehu.customers import services as customers

    contact = make_contact(org)
    with django_assert_num_queries(2):
        customer_consent(contact.customer, org.rep)
    for index in range(5):
        other = customers.contact_create(
            actor=org.admin, customer=contact.customer, data={"name": f"赵{index}"}, force=True
        )
        consent_record(org.rep, contact=other, channel="email", status="granted", source="staff")
    with django_assert_num_queries(2):
        context = customer_consent(contact.customer, org.rep)
    assert context is not None
    assert len(context["rows"]) == 6


# --- The web form's checkbox --------------------------------------------------------------------


def test_web_form_checkbox_records_web_form_consent(org: Organisation) -> None:
    from kehu.leads import services as leads

    form = leads.web_form_create(actor=org.admin, data={"name": "官网", "source": "website"})
    lead = leads.web_form_submit(
        form_key=form.key,
        secret=form.secret,
        data={
            "contact_name": "周女士",
            "company_name": "某某科技",
            "email": "zhou@example.cn",
            "mobile": "13900001111",
            "marketing_consent": "on",
            "consent_channels": "email",
        },
        ip="203.0.113.9",
    )
    assert lead is not None
    recorded = services.web_form_consent(lead)
    assert [(c.channel, c.status, c.source) for c in recorded] == [("email", "granted", "web_form")]
    unticked = leads.web_form_submit(
        form_key=form.key,
        secret=form.secret,
        data={"contact_name": "吴先生", "email": "wu@example.cn", "mobile": "13900002222"},
        ip="203.0.113.9",
    )
    assert unticked is not None
    assert services.web_form_consent(unticked) == []
    assert not Consent.objects.filter(lead=unticked).exists()


def test_a_web_form_opt_in_overrides_an_earlier_withdrawal_of_the_address(
    org: Organisation,
) -> None:
    from kehu.campaigns.models import CampaignMember
    from kehu.campaigns.services.consent import partition
    from kehu.campaigns.tests.consent_support import add_member, make_campaign

    contact = make_contact(org)
    _withdraw({"contact": contact})
    campaign = make_campaign(org)
    imported = make_lead(org, email=contact.email)
    consent_record(org.marketing, lead=imported, channel=EMAIL, status="granted", source="import")
    member = add_member(campaign, imported)
    members = CampaignMember.objects.filter(campaign=campaign)
    assert partition(EMAIL, members).skipped == {"unsubscribed": 1}
    consent_record(
        None, lead=imported, channel=EMAIL, status="withdrawn", source="unsubscribe_link"
    )
    consent_record(None, lead=imported, channel=EMAIL, status="granted", source="web_form")
    assert partition(EMAIL, members).recipients == [(member, contact.email)]
