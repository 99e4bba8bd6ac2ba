"""Who may reach each segments URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The segments are marketing's, filed under 华东区: marketing (every segment), the east manager
(their department's) and admins manage them; the south manager, sales reps and service see
none of them (404: reps and service have no segments at all, so no role sees one it may not
change, and no case is 403).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.campaigns.services import segments as services
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.customers.tests.factories import make_customer

MANAGE: Roles = {
    "may": ("marketing", "east_manager", "admin"),
    "out_of_scope": ("south_manager", "rep", "south_rep", "service"),
}
WON = {"match": "all", "conditions": [{"field": "status", "op": "in", "value": ["won"]}]}


def dynamic(org: Organisation) -> dict[str, Any]:
    segment = services.segment_create(
        actor=org.marketing,
        data={"name": "成交客户", "conditions": WON, "department_id": org.east.pk},
    )
    return {"segment_id": segment.pk, "_version": segment.version}


def static(org: Organisation) -> dict[str, Any]:
    segment = services.segment_create(
        actor=org.marketing,
        data={"name": "展会名单", "kind": "static", "department_id": org.east.pk},
    )
    customer = make_customer(org.rep, name="上海名单客户")
    services.entries_add(actor=org.admin, segment_id=segment.pk, ids=[customer.pk])
    return {"segment_id": segment.pk, "_customer": customer.pk}


def ids_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"ids": [made["_customer"]]}


def patch_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_version"], "name": "改名"}


def edit_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": made["_version"],
        "name": "改名",
        "target": "customers",
        "kind": "dynamic",
        "conditions": '{"match": "any", "conditions": []}',
    }


def upload(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"file": SimpleUploadedFile("list.csv", b"13800138000\n", content_type="text/csv")}


TABLE = [
    # --- API ---
    Endpoint("GET /segments/{segment_id}", dynamic, **MANAGE),
    Endpoint("PATCH /segments/{segment_id}", dynamic, body=patch_body, **MANAGE),
    Endpoint("DELETE /segments/{segment_id}", dynamic, **MANAGE),
    Endpoint("GET /segments/{segment_id}/count", dynamic, **MANAGE),
    Endpoint("GET /segments/{segment_id}/preview", dynamic, **MANAGE),
    Endpoint("GET /segments/{segment_id}/entries", static, **MANAGE),
    Endpoint("POST /segments/{segment_id}/entries", static, body=ids_body, **MANAGE),
    Endpoint("POST /segments/{segment_id}/entries/remove", static, body=ids_body, **MANAGE),
    Endpoint(
        "POST /segments/{segment_id}/entries/import",
        static,
        body=upload,
        multipart=True,
        **MANAGE,
    ),
    # --- UI ---
    Endpoint("GET campaigns:segment_detail", dynamic, **MANAGE),
    Endpoint("GET campaigns:segment_detail", static, label="static", **MANAGE),
    Endpoint("GET campaigns:segment_edit", dynamic, **MANAGE),
    Endpoint("POST campaigns:segment_edit", dynamic, body=edit_body, **MANAGE),
    Endpoint("POST campaigns:segment_delete", dynamic, **MANAGE),
    Endpoint("POST campaigns:segment_entries_add", static, body=ids_body, **MANAGE),
    Endpoint("POST campaigns:segment_entries_remove", static, body=ids_body, **MANAGE),
    Endpoint("POST campaigns:segment_import", static, body=upload, multipart=True, **MANAGE),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
