"""Who may reach each customer, contact and attachment URL and API operation (the three-way
table of ``kehu.core.testing.permissions``).

The customer belongs to 上海组's rep and is shared read-write with their colleague; 华南区's
rep is another team. Marketing reads every customer but edits none.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import (
    Endpoint,
    Masked,
    Roles,
    cases,
    check_mask,
    mask_cases,
    run,
)
from kehu.customers import services
from kehu.customers.models import Contact
from kehu.customers.tests.factories import make_customer

MOBILE = "13812341234"
VIEWERS = ("rep", "colleague", "east_manager", "marketing")
OTHERS = ("south_rep", "hangzhou_rep")
UI_REDIRECT = "the UI redirects back with an error message instead of answering 403"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def customer(org: Organisation) -> dict[str, Any]:
    """The rep's customer with a budget and a contact, shared read-write with the colleague."""
    row = make_customer(org.rep, annual_budget=Decimal("500000"))
    contact = Contact.objects.create(
        customer=row, name="张经理", mobile=MOBILE, email="zhang@corp.cn"
    )
    services.customer_share(actor=org.rep, customer=row, user=org.colleague, can_edit=True)
    return {"customer_id": row.pk, "_customer": row, "_contact": contact}


def contact(org: Organisation) -> dict[str, Any]:
    made = customer(org)
    return {"contact_id": made["_contact"].pk, "_contact": made["_contact"]}


def listed_customer(org: Organisation) -> dict[str, Any]:
    """``customer``, for a list: no parameter in its URL."""
    return {f"_{key}": value for key, value in customer(org).items()}


def attachment(org: Organisation) -> dict[str, Any]:
    made = customer(org)
    upload = SimpleUploadedFile("报价单.pdf", b"%PDF-1.4 quote", content_type="application/pdf")
    row = services.attachment_add(actor=org.rep, customer=made["_customer"], upload=upload)
    return {"attachment_id": row.pk}


def two_customers(org: Organisation) -> dict[str, Any]:
    made = customer(org)
    other = make_customer(org.rep)
    return {**made, "_other": other}


def saved_filter(org: Organisation) -> dict[str, Any]:
    row = services.saved_filter_save(user=org.rep, name="重点", query="status=won")
    return {"filter_id": row.pk}


def saved_filter_of(list_name: str) -> Any:
    """A factory of the rep's saved filter of another list (leads, deals, tickets)."""

    def make(org: Organisation) -> dict[str, Any]:
        row = services.saved_filter_save(
            user=org.rep, name="重点", query="cf=level%3A1", list_name=list_name
        )
        return {"filter_id": row.pk}

    return make


def version(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_customer"].version, "notes": "改过"}


def edit_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    row = made["_customer"]
    return {
        "name": row.name,
        "kind": row.kind,
        "status": row.status,
        "version": row.version,
        "notes": "改过",
    }


def upload(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"file": SimpleUploadedFile("合同.pdf", b"%PDF-1.4 x", content_type="application/pdf")}


WRITE: Roles = {"may": ("rep", "colleague", "east_manager"), "may_not": ("marketing",)}

TABLE = [
    # --- API: customers ---
    Endpoint("GET /customers/{customer_id}", customer, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint("PATCH /customers/{customer_id}", customer, body=version, **WRITE),
    Endpoint(
        "DELETE /customers/{customer_id}",
        customer,
        may=("admin",),
        may_not=("rep", "east_manager", "marketing"),
    ),
    Endpoint(
        "POST /customers/{customer_id}/status",
        customer,
        body={"status": "intent"},
        **WRITE,
    ),
    Endpoint(
        "POST /customers/{customer_id}/reassign",
        customer,
        body=lambda org, made: {"owner_id": org.hangzhou_rep.pk, "reason": "调岗"},
        may=("east_manager", "admin"),
        may_not=("rep", "marketing"),
    ),
    Endpoint(
        "POST /customers/{customer_id}/share",
        customer,
        body=lambda org, made: {"user_id": org.hangzhou_rep.pk},
        may=("rep", "east_manager", "admin"),
        may_not=("colleague", "marketing"),
    ),
    Endpoint(
        "POST /customers/{customer_id}/merge",
        two_customers,
        body=lambda org, made: {"merged_id": made["_other"].pk},
        may=("east_manager", "admin"),
        may_not=("rep", "marketing"),
    ),
    Endpoint(
        "POST /customers/{customer_id}/verify",
        customer,
        body={"via": "phone"},
        **WRITE,
    ),
    Endpoint(
        "POST /customers/{customer_id}/grade",
        customer,
        body={"grade": "A", "reason": "重点客户"},
        **WRITE,
    ),
    Endpoint("GET /customers/{customer_id}/history", customer, may=VIEWERS, out_of_scope=OTHERS),
    # --- API: contacts ---
    Endpoint("GET /contacts/{contact_id}", contact, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint(
        "PATCH /contacts/{contact_id}",
        contact,
        body=lambda org, made: {"version": made["_contact"].version, "title": "总监"},
        **WRITE,
    ),
    Endpoint(
        "POST /contacts/{contact_id}/deactivate",
        contact,
        body={"reason": "离职"},
        **WRITE,
    ),
    # --- UI ---
    Endpoint("GET customers:detail", customer, may=VIEWERS, out_of_scope=OTHERS),
    # a list: another team's contacts are left out of it (test_contact_list_page.py)
    Endpoint(
        "GET customers:contact_list", listed_customer, may=(*VIEWERS, "service"), out_of_scope=()
    ),
    Endpoint(
        "GET customers:tab",
        lambda org: {**customer(org), "tab": "history"},
        may=VIEWERS,
        out_of_scope=OTHERS,
    ),
    Endpoint("GET customers:edit", customer, **WRITE),
    Endpoint("POST customers:edit", customer, body=edit_form, **WRITE),
    Endpoint(
        "POST customers:status",
        customer,
        body={"status": "intent"},
        **WRITE,
    ),
    Endpoint("POST customers:verify", customer, body={"via": "phone"}, **WRITE),
    Endpoint(
        "POST customers:reassign",
        customer,
        body=lambda org, made: {"owner": org.hangzhou_rep.pk, "reason": "调岗"},
        may=("east_manager", "admin"),
        may_not=("rep", "marketing"),
        defects={"may_not:rep": UI_REDIRECT},
    ),
    Endpoint(
        "POST customers:share",
        customer,
        body=lambda org, made: {"user": org.hangzhou_rep.pk},
        may=("rep", "east_manager", "admin"),
        may_not=("colleague", "marketing"),
    ),
    Endpoint(
        "POST customers:grade",
        customer,
        body={"grade": "A", "reason": "重点客户"},
        **WRITE,
    ),
    Endpoint(
        "POST customers:merge",
        two_customers,
        body=lambda org, made: {"merged_number": made["_other"].number},
        may=("east_manager", "admin"),
        may_not=("rep", "marketing"),
    ),
    Endpoint(
        "POST customers:delete",
        customer,
        may=("admin",),
        may_not=("rep", "east_manager", "marketing"),
    ),
    Endpoint(
        "POST customers:contact_add",
        customer,
        body={"name": "李工", "title": "工程师"},
        **WRITE,
    ),
    Endpoint("POST customers:attachment_upload", customer, body=upload, **WRITE),
    Endpoint(
        "GET customers:contact_edit",
        contact,
        **WRITE,
    ),
    Endpoint(
        "POST customers:contact_edit",
        contact,
        body=lambda org, made: {
            "name": "张经理",
            "title": "总监",
            "version": made["_contact"].version,
        },
        **WRITE,
    ),
    Endpoint(
        "POST customers:contact_deactivate",
        contact,
        body={"reason": "离职"},
        **WRITE,
    ),
    Endpoint("GET customers:attachment", attachment, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint("POST customers:attachment_delete", attachment, **WRITE),
    Endpoint(
        "POST customers:filter_delete",
        saved_filter,
        silent=True,
        may=("rep",),
        out_of_scope=("colleague", "south_rep"),
    ),
    Endpoint(
        "POST customers:filter_delete",
        saved_filter_of("leads"),
        label="leads",
        silent=True,
        may=("rep",),
        out_of_scope=("colleague", "east_manager", "south_rep"),
    ),
    Endpoint(
        "POST customers:filter_delete",
        saved_filter_of("opportunities"),
        label="opportunities",
        silent=True,
        may=("rep",),
        out_of_scope=("colleague", "east_manager", "south_rep"),
    ),
    Endpoint(
        "POST customers:filter_delete",
        saved_filter_of("tickets"),
        label="tickets",
        silent=True,
        may=("rep",),
        out_of_scope=("colleague", "east_manager", "south_rep"),
    ),
]

MASKS = [
    Masked(
        "GET /customers/{customer_id}",
        customer,
        "rep",
        shows={"contacts.0.mobile": MOBILE, "contacts.0.masked": False},
    ),
    Masked(
        "GET /customers/{customer_id}",
        customer,
        "colleague",
        shows={
            "annual_budget": None,
            "contacts.0.mobile": "138****1234",
            "contacts.0.masked": True,
        },
        hides=(MOBILE, "zhang@corp.cn"),
    ),
    Masked(
        "GET /customers/{customer_id}",
        customer,
        "marketing",
        shows={
            "annual_budget": None,
            "contacts.0.mobile": "138****1234",
            "contacts.0.masked": True,
        },
        hides=(MOBILE, "zhang@corp.cn"),
    ),
    Masked(
        "GET /contacts/{contact_id}",
        contact,
        "marketing",
        shows={"mobile": "138****1234", "masked": True},
        hides=(MOBILE,),
    ),
    Masked(
        "GET customers:detail", customer, "colleague", shows={"138****1234": True}, hides=(MOBILE,)
    ),
    Masked(
        "GET customers:contact_list",
        listed_customer,
        "colleague",
        shows={"138****1234": True},
        hides=(MOBILE, "138 1234 1234", "zhang@corp.cn"),
    ),
    Masked(
        "GET customers:contact_list",
        listed_customer,
        "marketing",
        shows={"138****1234": True},
        hides=(MOBILE, "138 1234 1234", "zhang@corp.cn"),
    ),
    Masked("GET customers:contact_list", listed_customer, "rep", shows={"zhang@corp.cn": True}),
    Masked(
        "GET customers:detail", customer, "marketing", shows={"138****1234": True}, hides=(MOBILE,)
    ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)


@pytest.mark.parametrize("mask", mask_cases(MASKS))
def test_masked(mask: Masked, org: Organisation) -> None:
    check_mask(mask, org)
