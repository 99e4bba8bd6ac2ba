"""Custom fields (自定义字段) on the pages of every record kind: the form takes the values
(checked by the same service path: a form error naming the field, required ones on create
only), the detail page shows them (sensitive ones masked for who may not see them), the list
shows chosen custom columns and filters by a filterable field in a fixed number of queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext, override

from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Customer, CustomerShare
from kehu.customers.tests.factories import make_customer
from kehu.integrations.models import CustomField
from kehu.integrations.services import custom_fields as services
from kehu.leads import services as leads
from kehu.leads.models import Lead
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import make_opportunity
from kehu.service.models import Ticket, TicketChannel
from kehu.service.services import tickets
from kehu.service.tests.tickets_support import hand_over
from kehu.service.tests.tickets_support import make_customer as service_customer

pytestmark = pytest.mark.django_db


def define(org: Organisation, kind: str, **data: Any) -> CustomField:
    values: dict[str, Any] = {"kind": kind, "type": "text", "label_en": "", **data}
    values.setdefault("label_zh", values["key"])
    return services.custom_field_create(actor=org.admin, data=values)


def fields_of(org: Organisation, kind: str) -> None:
    """A required text field, a filterable choice field and a sensitive money field."""
    define(org, kind, key="model_no", label_zh="设备型号", label_en="Model", required=True)
    define(
        org,
        kind,
        key="dealer_level",
        label_zh="经销商级别",
        label_en="Dealer level",
        type="choice",
        choices=["一级", "二级"],
        filterable=True,
    )
    define(org, kind, key="floor", label_zh="底价", label_en="Floor", type="money", sensitive=True)


def zh(message: str) -> str:
    """``message`` as the pages show it (in Chinese, the users' language)."""
    with override("zh-hans"):
        return gettext(message)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


def custom_cell(page: str, key: str) -> str:
    """The text of the detail page's ``data-custom-field`` value of ``key``."""
    start = page.index(f'data-custom-field="{key}">') + len(f'data-custom-field="{key}">')
    return page[start : page.index("</dd>", start)].strip()


# --- Customers (the pattern the other kinds share) ---------------------------------------------


def test_customer_list_filters_and_shows_custom_columns(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    fields_of(org, "customer")
    for number in range(4):
        make_customer(
            org.rep,
            name=f"经销商{number}有限公司",
            custom={"model_no": "KX", "dealer_level": "一级" if number else "二级"},
        )
    client = signed_in(org.rep)
    client.get(reverse("customers:list"))
    with django_assert_max_num_queries(14):
        response = client.get(
            reverse("customers:list"), {"cf": "dealer_level:一级", "columns": "dealer_level"}
        )
    page = html(response)
    assert "经销商0有限公司" not in page
    assert "经销商3有限公司" in page
    assert 'data-custom-column="dealer_level"' in page
    assert 'id="cf-dealer_level"' in page


# --- Opportunities -----------------------------------------------------------------------------


def test_opportunity_form_round_trip_and_required_on_create_only(org: Organisation) -> None:
    fields_of(org, "opportunity")
    customer = make_customer(org.rep, name="上海泵阀有限公司")
    client = signed_in(org.rep)
    form = html(client.get(reverse("opportunities:create")))
    assert 'id="custom-fields"' in form
    assert 'name="custom.model_no"' in form
    body = {"customer": customer.pk, "name": "泵站改造", "currency": "CNY", "owner": org.rep.pk}
    missing = client.post(reverse("opportunities:create"), body)
    assert missing.status_code == 200
    assert zh("This field is required.") in missing.content.decode()
    wrong = client.post(
        reverse("opportunities:create"), {**body, "custom.model_no": "KX", "custom.floor": "x"}
    )
    assert wrong.status_code == 200
    assert not Opportunity.objects.exists()
    assert zh("Enter a number.") in wrong.content.decode()
    created = client.post(
        reverse("opportunities:create"),
        {**body, "custom.model_no": "KX-9", "custom.dealer_level": "一级", "custom.floor": "900"},
    )
    assert created.status_code == 302, created.content.decode()
    deal = Opportunity.objects.get()
    assert deal.custom == {"model_no": "KX-9", "dealer_level": "一级", "floor": 900}
    edit = html(client.get(reverse("opportunities:edit", args=[deal.pk])))
    assert 'value="KX-9"' in edit
    # an old record without the required value stays valid until its custom values are edited
    old = make_opportunity(org.rep, customer=customer)
    assert old.custom == {}
    saved = client.post(
        reverse("opportunities:edit", args=[deal.pk]),
        {
            "name": "泵站改造二期",
            "currency": "CNY",
            "owner": org.rep.pk,
            "version": deal.version,
            "custom.model_no": "KX-10",
            "custom.dealer_level": "二级",
            "custom.floor": "900",
        },
    )
    assert saved.status_code == 302, saved.content.decode()
    deal.refresh_from_db()
    assert deal.custom == {"model_no": "KX-10", "dealer_level": "二级", "floor": 900}


def test_opportunity_detail_shows_values_and_masks_sensitive_ones(org: Organisation) -> None:
    fields_of(org, "opportunity")
    deal = make_opportunity(
        org.colleague, custom={"model_no": "KX-9", "floor": 900}, amount=Decimal(100)
    )
    owner_page = html(signed_in(org.colleague).get(reverse("opportunities:detail", args=[deal.pk])))
    assert custom_cell(owner_page, "model_no") == "KX-9"
    assert custom_cell(owner_page, "floor") == "¥900.00"
    # a rep the customer is shared with sees the deal, its sensitive values masked
    CustomerShare.objects.create(customer=deal.customer, user=org.rep)
    client = signed_in(org.rep)
    shared_page = html(client.get(reverse("opportunities:detail", args=[deal.pk])))
    assert custom_cell(shared_page, "model_no") == "KX-9"
    assert custom_cell(shared_page, "floor") == "****"
    listed = html(client.get(reverse("opportunities:list"), {"columns": ["floor", "model_no"]}))
    assert "****" in listed
    assert "¥900.00" not in listed


def test_opportunity_list_filters_and_shows_custom_columns(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    fields_of(org, "opportunity")
    for number in range(5):
        make_opportunity(
            org.rep,
            name=f"项目{number}",
            custom={"model_no": f"KX-{number}", "dealer_level": "一级" if number else "二级"},
        )
    client = signed_in(org.rep)
    client.get(reverse("opportunities:list"))
    with django_assert_max_num_queries(12):
        response = client.get(
            reverse("opportunities:list"),
            {"cf": "dealer_level:一级", "columns": ["dealer_level", "model_no"]},
        )
    page = html(response)
    assert "项目0" not in page
    assert all(f"项目{n}" in page for n in range(1, 5))
    assert 'data-custom-column="model_no"' in page
    assert "KX-4" in page
    assert 'id="cf-dealer_level"' in page
    api = api_client(org.rep).get("/api/v1/opportunities", {"cf": "dealer_level:一级"})
    assert api.json()["count"] == 4
    board = html(client.get(reverse("opportunities:board"), {"cf": "dealer_level:二级"}))
    assert "项目0" in board
    assert "项目4" not in board
    bad = html(client.get(reverse("opportunities:list"), {"cf": "floor:1"}))
    assert zh("Not a filterable field: %(key)s.") % {"key": "floor"} in bad


# --- Contacts ----------------------------------------------------------------------------------


def test_contact_forms_round_trip_and_the_contacts_tab_shows_values(org: Organisation) -> None:
    fields_of(org, "contact")
    customer = make_customer(org.rep, name="上海泵阀有限公司")
    client = signed_in(org.rep)
    detail = reverse("customers:detail", args=[customer.pk])
    page = html(client.get(detail, {"tab": "contacts"}))
    assert 'name="custom.model_no"' in page  # the add form's "More fields"
    add = reverse("customers:contact_add", args=[customer.pk])
    body = {"name": "李娜", "mobile": "13812345678"}
    client.post(add, body)
    assert not customer.contacts.exists()  # the required field is missing
    missing = html(client.get(detail))
    assert f"设备型号: {zh('This field is required.')}" in missing
    client.post(add, {**body, "custom.model_no": "KX", "custom.dealer_level": "三级"})
    assert not customer.contacts.exists()  # not a choice of the field
    client.post(
        add,
        {**body, "custom.model_no": "KX-9", "custom.dealer_level": "一级", "custom.floor": "50"},
    )
    contact = customer.contacts.get()
    assert contact.custom == {"model_no": "KX-9", "dealer_level": "一级", "floor": 50}
    page = html(client.get(detail, {"tab": "contacts"}))
    assert 'data-custom-column="model_no"' in page
    assert "KX-9" in page
    assert "¥50.00" in page
    edit = reverse("customers:contact_edit", args=[contact.pk])
    form = html(client.get(edit))
    assert 'value="KX-9"' in form
    saved = client.post(
        edit,
        {
            "name": "李娜",
            "mobile": "13812345678",
            "version": contact.version,
            "custom.model_no": "KX-10",
            "custom.dealer_level": "二级",
            "custom.floor": "50",
        },
    )
    assert saved.status_code == 302, saved.content.decode()
    contact.refresh_from_db()
    assert contact.custom == {"model_no": "KX-10", "dealer_level": "二级", "floor": 50}
    wrong = client.post(
        edit,
        {"name": "李娜", "version": contact.version, "custom.model_no": "", "custom.floor": "x"},
    )
    assert zh("Enter a number.") in html(wrong)


def test_contacts_tab_masks_sensitive_values_for_a_sharee(org: Organisation) -> None:
    fields_of(org, "contact")
    customer = make_customer(org.colleague, name="上海泵阀有限公司")
    client = signed_in(org.colleague)
    client.post(
        reverse("customers:contact_add", args=[customer.pk]),
        {"name": "李娜", "mobile": "13812345678", "custom.model_no": "KX", "custom.floor": "50"},
    )
    contact = customer.contacts.get()
    assert contact.custom == {"model_no": "KX", "floor": 50}
    CustomerShare.objects.create(customer=customer, user=org.rep)
    page = html(signed_in(org.rep).get(reverse("customers:detail", args=[customer.pk])))
    assert '<td data-label="底价">****</td>' in page
    assert "¥50.00" not in page


# --- Leads -------------------------------------------------------------------------------------


def capture(actor: Any, number: int, **custom: Any) -> Lead:
    data = {
        "company_name": f"线索公司{number}",
        "contact_name": f"联系人{number}",
        "mobile": f"1380013{number:04d}",
        "source": "trade_show",
    }
    return leads.lead_capture(actor=actor, data={**data, "custom": custom})


def test_lead_form_round_trip_and_required_on_create_only(org: Organisation) -> None:
    fields_of(org, "lead")
    client = signed_in(org.rep)
    form = html(client.get(reverse("leads:create")))
    assert 'name="custom.model_no"' in form
    body = {
        "contact_name": "王伟",
        "mobile": "13812345678",
        "source": "website",
        "urgency": "medium",
    }
    missing = html(client.post(reverse("leads:create"), body))
    assert zh("This field is required.") in missing
    assert not Lead.objects.exists()
    created = client.post(
        reverse("leads:create"),
        {**body, "custom.model_no": "KX-9", "custom.dealer_level": "一级", "custom.floor": "70"},
    )
    assert created.status_code == 302, created.content.decode()
    lead = Lead.objects.get()
    assert lead.custom == {"model_no": "KX-9", "dealer_level": "一级", "floor": 70}
    edit = reverse("leads:edit", args=[lead.pk])
    assert 'value="KX-9"' in html(client.get(edit))
    values = {
        **body,
        "version": lead.version,
        "custom.model_no": "KX-9",
        "custom.dealer_level": "二级",
        "custom.floor": "70",
    }
    wrong = html(client.post(edit, {**values, "custom.dealer_level": "三级"}))
    assert 'name="custom.dealer_level"' in wrong  # the form again, with the field's error
    lead.refresh_from_db()
    assert lead.custom["dealer_level"] == "一级"
    saved = client.post(edit, values)
    assert saved.status_code == 302, saved.content.decode()
    lead.refresh_from_db()
    assert lead.custom == {"model_no": "KX-9", "dealer_level": "二级", "floor": 70}
    # a lead made before the field became required stays valid when its other fields change
    old = capture(org.rep, 7, model_no="KX-1")
    old.refresh_from_db()
    Lead.objects.filter(pk=old.pk).update(custom={})
    renamed = client.post(
        reverse("leads:edit", args=[old.pk]),
        {
            "company_name": "改名公司",
            "contact_name": old.contact_name,
            "mobile": old.mobile,
            "source": old.source,
            "urgency": old.urgency,
            "version": old.version,
        },
    )
    assert renamed.status_code == 302, renamed.content.decode()


def test_lead_detail_shows_values_and_masks_sensitive_ones(org: Organisation) -> None:
    fields_of(org, "lead")
    lead = capture(org.rep, 1, model_no="KX-9", floor=70)
    mine = html(signed_in(org.rep).get(reverse("leads:detail", args=[lead.pk])))
    assert custom_cell(mine, "model_no") == "KX-9"
    assert custom_cell(mine, "floor") == "¥70.00"
    # marketing reads every lead, its sensitive values masked
    theirs = html(signed_in(org.marketing).get(reverse("leads:detail", args=[lead.pk])))
    assert custom_cell(theirs, "model_no") == "KX-9"
    assert custom_cell(theirs, "floor") == "****"
    listed = html(signed_in(org.marketing).get(reverse("leads:list"), {"columns": "floor"}))
    assert '<td data-label="底价">****</td>' in listed
    assert "¥70.00" not in listed


def test_lead_list_filters_and_shows_custom_columns(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    fields_of(org, "lead")
    for number in range(5):
        capture(org.rep, number, model_no=f"KX-{number}", dealer_level="一级" if number else "二级")
    client = signed_in(org.rep)
    client.get(reverse("leads:list"))
    with django_assert_max_num_queries(7):
        response = client.get(
            reverse("leads:list"), {"cf": "dealer_level:一级", "columns": ["model_no"]}
        )
    page = html(response)
    assert "线索公司0" not in page
    assert all(f"线索公司{n}" in page for n in range(1, 5))
    assert 'data-custom-column="model_no"' in page
    assert "KX-4" in page
    assert 'id="cf-dealer_level"' in page
    listed = api_client(org.rep).get("/api/v1/leads", {"cf": "dealer_level:一级"}).json()
    assert listed["count"] == 4


# --- Tickets -----------------------------------------------------------------------------------


def raise_ticket(org: Organisation, subject: str, **custom: Any) -> Ticket:
    """A ticket of the rep's customer, handed over to the service specialist."""
    customer = Customer.objects.filter(owner=org.rep).first()
    if customer is None:
        customer, _contact = service_customer(org.rep)
        hand_over(customer, org.rep, org.service)
    return tickets.ticket_create(
        actor=org.admin,
        data={
            "subject": subject,
            "content": "设备无法启动",
            "assignee": org.service.pk,
            "custom": custom,
        },
        channel=TicketChannel.UI,
        customer=customer,
    )


def test_ticket_forms_round_trip_and_required_on_create_only(org: Organisation) -> None:
    fields_of(org, "ticket")
    client = signed_in(org.admin)
    form = html(client.get(reverse("service:ticket_new")))
    assert 'name="custom.model_no"' in form
    body = {
        "subject": "泵漏水",
        "content": "三号泵漏水",
        "ticket_type": "support",
        "priority": "medium",
    }
    missing = html(client.post(reverse("service:ticket_new"), body))
    assert zh("This field is required.") in missing
    assert not Ticket.objects.exists()
    created = client.post(
        reverse("service:ticket_new"),
        {**body, "custom.model_no": "KX-9", "custom.dealer_level": "一级", "custom.floor": "80"},
    )
    assert created.status_code == 302, created.content.decode()
    ticket = Ticket.objects.get()
    assert ticket.custom == {"model_no": "KX-9", "dealer_level": "一级", "floor": 80}
    edit = reverse("service:ticket_edit", args=[ticket.pk])
    assert 'value="KX-9"' in html(client.get(edit))
    values = {
        **body,
        "version": ticket.version,
        "custom.model_no": "KX-9",
        "custom.dealer_level": "二级",
        "custom.floor": "80",
    }
    wrong = html(client.post(edit, {**values, "custom.floor": "很多"}))
    assert zh("Enter a number.") in wrong
    saved = client.post(edit, {**values, "subject": "泵严重漏水"})
    assert saved.status_code == 302, saved.content.decode()
    ticket.refresh_from_db()
    assert ticket.subject == "泵严重漏水"
    assert ticket.custom == {"model_no": "KX-9", "dealer_level": "二级", "floor": 80}


def test_ticket_detail_shows_values_and_masks_sensitive_ones(org: Organisation) -> None:
    fields_of(org, "ticket")
    ticket = raise_ticket(org, "设备故障", model_no="KX-9", floor=80)
    url = reverse("service:ticket_detail", args=[ticket.pk])
    specialist = html(signed_in(org.service).get(url))
    assert custom_cell(specialist, "model_no") == "KX-9"
    assert custom_cell(specialist, "floor") == "¥80.00"
    # the customer's rep reads the ticket, its sensitive values masked
    rep = html(signed_in(org.rep).get(url))
    assert custom_cell(rep, "model_no") == "KX-9"
    assert custom_cell(rep, "floor") == "****"
    listed = html(signed_in(org.rep).get(reverse("service:tickets"), {"columns": "floor"}))
    assert "<td>****</td>" in listed
    assert "¥80.00" not in listed


def test_ticket_list_filters_and_shows_custom_columns(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    fields_of(org, "ticket")
    for number in range(5):
        raise_ticket(
            org,
            f"故障{number}号",
            model_no=f"KX-{number}",
            dealer_level="一级" if number else "二级",
        )
    client = signed_in(org.service)
    client.get(reverse("service:tickets"))
    with django_assert_max_num_queries(7):
        response = client.get(
            reverse("service:tickets"), {"cf": "dealer_level:一级", "columns": ["model_no"]}
        )
    page = html(response)
    assert "故障0号" not in page
    assert all(f"故障{n}号" in page for n in range(1, 5))
    assert 'data-custom-column="model_no"' in page
    assert "KX-4" in page
    assert 'id="cf-dealer_level"' in page
    bad = html(client.get(reverse("service:tickets"), {"cf": "dealer_level:三级"}))
    assert 'id="filter-error"' in bad
    api = api_client(org.service)
    assert api.get("/api/v1/tickets", {"cf": "dealer_level:一级"}).json()["count"] == 4
    refused = api.get("/api/v1/tickets", {"cf": "dealer_level:三级"})
    assert refused.status_code == 422
    assert list(refused.json()["errors"]) == ["cf"]
