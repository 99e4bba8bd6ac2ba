"""Entry rules (docs/data-entry.md): the handbooks' required fields, 待核实, the private-mobile
rule and city names, alike through the form, the API and the import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core import config
from kehu.core.errors import InvalidInput
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services
from kehu.customers.models import TO_VERIFY, Contact, Customer
from kehu.leads.models import Lead
from kehu.transfer import engine
from kehu.transfer import services as transfer_services
from kehu.transfer.tests.helpers import write_csv

pytestmark = [pytest.mark.django_db, pytest.mark.entry_rules]

COMPLETE = {
    "name": "深圳华瑞精密机械有限公司",
    "industry": "34",
    "employees_band": "300-500",
    "source": "trade_show",
    "initial_need": "自动化产线改造",
}
CONTACT = {"name": "王伟", "mobile": "13812345678"}


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_api_names_every_missing_field(org: Organisation) -> None:
    api = api_client(org.rep)
    response = api.post(
        "/api/v1/customers", {"name": "某某有限公司"}, content_type="application/json"
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"contacts", "industry", "employees_band", "source", "initial_need"}
    assert "待核实" in errors["industry"][0]
    assert not Customer.objects.exists()
    created = api.post(
        "/api/v1/customers",
        {**COMPLETE, "contacts": [CONTACT]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()


def test_to_be_verified_is_accepted_as_a_value(org: Organisation) -> None:
    api = api_client(org.rep)
    body = {
        **COMPLETE,
        "industry": TO_VERIFY,
        "employees_band": "待核实",
        "initial_need": " 待核实 ",
        "contacts": [CONTACT],
    }
    response = api.post("/api/v1/customers", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    customer = Customer.objects.get()
    assert customer.industry_id is None
    assert customer.initial_need == ""
    assert customer.to_verify == ["employees_band", "industry", "initial_need"]
    # or listed in to_verify, as the form's checkboxes send it
    other = services.customer_create(
        actor=org.rep,
        data={**COMPLETE, "name": "广州德兴科技有限公司", "source": "", "to_verify": ["source"]},
        contacts=[{"name": "李娜", "email": "lina@dexing.cn"}],
    )
    assert other.to_verify == ["source"]
    # but a name and a way to reach someone cannot be "to be verified"
    with pytest.raises(InvalidInput) as refused:
        services.customer_create(
            actor=org.rep,
            data={**COMPLETE, "name": "杭州某某有限公司"},
            contacts=[{"name": "赵强", "mobile": TO_VERIFY}],
        )
    assert "mobile" in refused.value.errors


def test_the_form_shows_the_error_on_the_field(org: Organisation) -> None:
    client = signed_in(org.rep)
    base = {"kind": "company", "status": "potential", "contact_name": "王伟"}
    response = client.post(
        "/customers/new/",
        {**base, **COMPLETE, "industry": "", "contact_mobile": "13812345678"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["industry"]
    assert not Customer.objects.exists()
    response = client.post(
        "/customers/new/",
        {**base, **COMPLETE, "contact_mobile": ""},
    )
    assert "contact_mobile" in response.context["form"].errors
    response = client.post(
        "/customers/new/",
        {
            **base,
            **COMPLETE,
            "industry": "",
            "to_verify": ["industry"],
            "contact_mobile": "13812345678",
        },
    )
    assert response.status_code == 302
    assert Customer.objects.get().to_verify == ["industry"]


def test_existing_records_stay_valid_until_the_field_is_edited(org: Organisation) -> None:
    config.put("customers.required_fields", ["name"])
    old = services.customer_create(actor=org.rep, data={"name": "老客户精工有限公司"})
    config.put("customers.required_fields", config.DEFAULTS["customers.required_fields"].default)
    config.clear_cache()
    # an edit of other fields passes: the rules bind what the edit touches
    services.customer_update(actor=org.rep, customer=old, changes={"address": "深圳市南山区"})
    services.customer_update(actor=org.rep, customer=old, changes={"source": "referral"})
    with pytest.raises(InvalidInput) as refused:
        services.customer_update(actor=org.rep, customer=old, changes={"source": ""})
    assert list(refused.value.errors) == ["source"]
    old.refresh_from_db()
    assert old.source == "referral"
    # taking the 待核实 mark off a blank field touches it too
    services.customer_update(actor=org.rep, customer=old, changes={"industry": "待核实"})
    old.refresh_from_db()
    assert old.to_verify == ["industry"]
    with pytest.raises(InvalidInput):
        services.customer_update(actor=org.rep, customer=old, changes={"to_verify": []})


def test_the_required_fields_are_a_setting(org: Organisation) -> None:
    config.put("customers.required_fields", ["name", "region"])
    with pytest.raises(InvalidInput) as refused:
        services.customer_create(actor=org.rep, data={"name": "某某有限公司"})
    assert list(refused.value.errors) == ["region"]
    made = services.customer_create(actor=org.rep, data={"name": "某某有限公司", "region": "深圳"})
    assert made.region_id == "440300"


def test_a_private_mobile_beside_a_work_number_needs_a_reason(org: Organisation) -> None:
    customer = services.customer_create(
        actor=org.rep, data=COMPLETE, contacts=[{"name": "王伟", "work_phone": "0755-86001234"}]
    )
    contact = customer.contacts.get()
    api = api_client(org.rep)
    url = f"/api/v1/contacts/{contact.pk}"
    refused = api.patch(
        url, {"mobile": "13812345678", "version": contact.version}, content_type="application/json"
    )
    assert refused.status_code == 422
    assert "mobile" in refused.json()["errors"]
    contact.refresh_from_db()
    assert contact.mobile == ""
    accepted = api.patch(
        url,
        {"mobile": "13812345678", "mobile_reason": "公司配发手机", "version": contact.version},
        content_type="application/json",
    )
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["mobile_reason"] == "公司配发手机"
    # a new contact through the page: refused with the message, then with a reason
    client = signed_in(org.rep)
    post = {"name": "李娜", "work_phone": "0755-86001235", "mobile": "13912345678"}
    client.post(f"/customers/{customer.pk}/contacts/", post)
    assert not Contact.objects.filter(name="李娜").exists()
    client.post(f"/customers/{customer.pk}/contacts/", {**post, "mobile_reason": "本人要求"})
    assert Contact.objects.get(name="李娜").mobile_reason == "本人要求"
    # the rule is a setting
    config.put("customers.private_mobile_needs_reason", False)
    services.contact_create(
        actor=org.rep,
        customer=customer,
        data={"name": "赵强", "work_phone": "0755-86001236", "mobile": "13712345678"},
    )


@pytest.mark.parametrize(
    "typed", ["深圳", "深圳市", "广东深圳", "广东省深圳市", "Shenzhen", "440300"]
)
def test_city_names_are_accepted_alike_on_every_path(
    org: Organisation, typed: str, tmp_path: Path
) -> None:
    api = api_client(org.rep)
    body = {**COMPLETE, "region": typed, "contacts": [CONTACT]}
    response = api.post("/api/v1/customers", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert Customer.objects.get().region_id == "440300"
    lead = api.post(
        "/api/v1/leads",
        {
            "contact_name": "王伟",
            "mobile": "13912345678",
            "source": "trade_show",
            "need": "产线改造",
            "region": typed,
        },
        content_type="application/json",
    )
    assert lead.status_code == 201, lead.json()
    assert Lead.objects.get().region_id == "440300"
    headers = [
        "客户名称",
        "所属行业",
        "客户规模",
        "信息来源",
        "初步需求",
        "所在地区",
        "联系人",
        "手机",
    ]
    row = ["广州德兴科技有限公司", "34", "300-500人", "展会", "需求", typed, "李娜", "13712345678"]
    job = transfer_services.import_job_create(
        actor=org.admin, kind="customers", path=write_csv(tmp_path / "a.csv", [row], headers)
    )
    job.dry_run = False
    job.save()
    job = engine.run_job(job)
    assert job.counts["created"] == 1, job.errors
    assert Customer.objects.get(name=row[0]).region_id == "440300"


def test_the_import_refuses_rows_that_break_the_rules(org: Organisation, tmp_path: Path) -> None:
    headers = ["客户名称", "所属行业", "客户规模", "信息来源", "初步需求", "联系人", "手机", "座机"]
    rows = [
        ["华瑞精工有限公司", "34", "300-500人", "展会", "改造", "王伟", "13812345678", ""],
        ["德兴科技有限公司", "", "300-500人", "展会", "改造", "李娜", "13912345678", ""],
        ["恒泰安康有限公司", "待核实", "待核实", "展会", "改造", "赵强", "13712345678", ""],
        ["盛达信诚有限公司", "34", "300-500人", "展会", "改造", "钱明", "", ""],
        [
            "博创新智有限公司",
            "34",
            "300-500人",
            "展会",
            "改造",
            "孙丽",
            "13612345678",
            "0755-86001234",
        ],
    ]
    job = transfer_services.import_job_create(
        actor=org.admin, kind="customers", path=write_csv(tmp_path / "a.csv", rows, headers)
    )
    job.dry_run = False
    job.save()
    job = engine.run_job(job)
    assert job.counts["created"] == 2
    assert job.counts["invalid"] == 3
    problems = {(error["line"], error["column"]) for error in job.errors}
    assert problems == {(3, "所属行业"), (5, "手机"), (6, "手机")}
    marked = Customer.objects.get(name="恒泰安康有限公司")
    assert marked.to_verify == ["employees_band", "industry"]


def _run_import(actor: Any, kind: str, path: Path) -> Any:
    job = transfer_services.import_job_create(actor=actor, kind=kind, path=path)
    job.dry_run = False
    job.save()
    return engine.run_job(job)


def test_leads_follow_their_rules_on_every_path(org: Organisation, tmp_path: Path) -> None:
    api = api_client(org.rep)
    lead = {"contact_name": "王伟", "mobile": "13912345678", "source": "trade_show"}
    refused = api.post("/api/v1/leads", lead, content_type="application/json")
    assert refused.status_code == 422
    assert list(refused.json()["errors"]) == ["need"]
    accepted = api.post(
        "/api/v1/leads", {**lead, "need": "待核实"}, content_type="application/json"
    )
    assert accepted.status_code == 201, accepted.json()
    # an edit that blanks the need is refused; one of another field passes
    lead_id, version = accepted.json()["id"], accepted.json()["version"]
    blanked = api.patch(
        f"/api/v1/leads/{lead_id}",
        {"need": "", "version": version},
        content_type="application/json",
    )
    assert blanked.status_code == 422
    assert "need" in blanked.json()["errors"]
    # the import: the row without a need is refused on its column
    headers = ["联系人", "手机", "来源", "需求"]
    rows = [["李娜", "13712345678", "展会", "产线改造"], ["赵强", "13612345678", "展会", ""]]
    job = _run_import(org.admin, "leads", write_csv(tmp_path / "leads.csv", rows, headers))
    assert job.counts["created"] == 1
    assert [(error["line"], error["column"]) for error in job.errors] == [(3, "需求")]
    assert Lead.objects.filter(contact_name="李娜").exists()
    assert not Lead.objects.filter(contact_name="赵强").exists()


def test_deals_follow_their_rules_on_every_path(org: Organisation) -> None:
    customer = services.customer_create(actor=org.rep, data=COMPLETE, contacts=[CONTACT])
    api = api_client(org.rep)
    body = {"customer_id": customer.pk, "name": "产线改造一期"}
    refused = api.post("/api/v1/opportunities", body, content_type="application/json")
    assert list(refused.json()["errors"]) == ["needs"]  # the default: 初步需求
    body["needs"] = "待核实"
    config.put("opportunities.required_fields", ["needs", "amount", "expected_close"])
    config.clear_cache()
    refused = api.post("/api/v1/opportunities", body, content_type="application/json")
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"amount", "expected_close"}
    full = {**body, "amount": "200000", "expected_close": "2027-03-31"}
    created = api.post("/api/v1/opportunities", full, content_type="application/json")
    assert created.status_code == 201, created.json()
    client = signed_in(org.rep)
    page = client.post(
        reverse("opportunities:create"),
        {
            "customer": customer.pk,
            "name": "产线改造二期",
            "currency": "CNY",
            "amount": "300000",
            "needs": "产线",
        },
    )
    assert page.status_code == 200
    assert "expected_close" in page.context["form"].errors
    config.put("opportunities.required_fields", ["needs"])
    config.clear_cache()
    page = client.post(
        reverse("opportunities:create"),
        {"customer": customer.pk, "name": "产线改造二期", "currency": "CNY", "needs": "待核实"},
    )
    assert page.status_code == 302


def test_a_converted_lead_marks_what_it_does_not_carry(org: Organisation) -> None:
    from kehu.leads import services as leads

    lead = leads.lead_capture(
        actor=org.rep,
        data={
            "company_name": "待核实",
            "contact_name": "王伟",
            "mobile": "13912345678",
            "source": "trade_show",
            "need": "产线改造",
            "region": "深圳",
        },
    )
    lead = leads.lead_confirm(actor=org.rep, lead=lead)
    converted = leads.lead_convert(actor=org.rep, lead=lead, create_opportunity=True)
    customer = converted.customer
    assert customer.name == "王伟"
    assert customer.initial_need == "产线改造"
    assert customer.to_verify == ["employees_band", "industry"]
