"""Who may reach each custom-field URL and API operation that takes a field (the three-way
table of ``kehu.core.testing.permissions``).

Defining custom fields is the administrators' alone; definitions belong to no team, so no
case is out of scope. (Every user lists the fields they see with ``GET /custom-fields``,
which takes no id.)"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.integrations.models import CustomField
from kehu.integrations.services import custom_fields

ADMIN_ONLY: Roles = {
    "may": ("admin",),
    "may_not": ("rep", "east_manager", "marketing", "service"),
    "out_of_scope": (),
}


def field(org: Organisation) -> dict[str, Any]:
    made = custom_fields.custom_field_create(
        actor=org.admin,
        data={
            "kind": "customer",
            "key": "dealer_level",
            "label_zh": "经销商级别",
            "type": "choice",
            "choices": ["一级", "二级"],
        },
    )
    return {"field_id": made.pk, "_field": made}


def deleted_field(org: Organisation) -> dict[str, Any]:
    made = field(org)
    custom_fields.custom_field_delete(actor=org.admin, field=made["_field"])
    return made


def versioned(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_field"].version, "label_en": "Dealer level"}


def settings_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    saved: CustomField = made["_field"]
    return {
        "action": "save",
        "version": saved.version,
        "key": "dealer_level",
        "label_zh": "经销商级别",
        "type": "choice",
        "choices": "一级\n二级\n三级",
        "order": 1,
    }


TABLE = [
    # --- API ---
    Endpoint("GET /custom-fields/{field_id}", field, **ADMIN_ONLY),
    Endpoint("PATCH /custom-fields/{field_id}", field, body=versioned, **ADMIN_ONLY),
    Endpoint("DELETE /custom-fields/{field_id}", field, status=200, **ADMIN_ONLY),
    Endpoint("POST /custom-fields/{field_id}/restore", deleted_field, body={}, **ADMIN_ONLY),
    # --- UI ---
    Endpoint("GET integrations:custom_field", field, **ADMIN_ONLY),
    Endpoint("POST integrations:custom_field", field, body=settings_form, **ADMIN_ONLY),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
