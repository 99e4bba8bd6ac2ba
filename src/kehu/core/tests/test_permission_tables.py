"""Every URL and API operation that takes an object is in an app's permission table.

The UI's routes with an ``<int:…>`` converter come from the URL resolver, the API's
operations with a path parameter from the OpenAPI document; each must be the ``target`` of an
entry in some ``kehu.<app>.tests.test_permissions.TABLE`` or be exempted below with a
reason. A new endpoint therefore fails here until it joins a table.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from django.test import Client

from kehu.core.testing.permissions import API_PREFIX, Endpoint, ui_routes

APPS = (
    "accounts",
    "analytics",
    "campaigns",
    "contracts",
    "core",
    "customers",
    "followups",
    "governance",
    "integrations",
    "leads",
    "notifications",
    "opportunities",
    "pools",
    "service",
    "transfer",
)

# "METHOD name" (UI: every method of the URL name) -> why it is in no table.
EXEMPT: dict[str, str] = {
    "POST /leads/web-forms/{key}/submissions": (
        "public and anonymous by design: the key is the form's secret (leads/test_web_form.py)"
    ),
    "GET /imports/fields/{kind}": "the kind of record, not an object: no owner, no scope",
    "GET /imports/templates/{kind}.xlsx": "a blank template per kind of record: no object",
    "GET /exports/{kind}": "the kind of record, not an object; exports are scoped row by row "
    "(transfer/test_masking.py)",
}


def object_routes() -> Iterator[tuple[str, str]]:
    """(URL name, route) of every UI pattern whose route takes an integer id."""
    return ((name, route) for name, route in ui_routes() if "<int:" in route)


def api_operations(client: Client, *, with_parameter: bool = True) -> Iterator[str]:
    """``"METHOD /path"`` of every API operation with a path parameter (or of all)."""
    document: dict[str, Any] = client.get(f"{API_PREFIX}/openapi.json").json()
    for path, operations in document["paths"].items():
        if with_parameter and "{" not in path:
            continue
        for method in operations:
            yield f"{method.upper()} {path.removeprefix(API_PREFIX)}"


def tabled() -> set[str]:
    """The URL names and ``"METHOD /path"`` targets of every app's table entries."""
    covered: set[str] = set()
    for name in [f"kehu.{app}.tests.test_permissions" for app in APPS]:
        module = importlib.import_module(name)
        entries: list[Endpoint] = module.TABLE
        for entry in entries:
            covered.add(entry.target if entry.is_api else entry.name)
    return covered


def test_every_object_endpoint_is_in_a_permission_table(db: None) -> None:
    covered = tabled()
    exempt = {
        key if key.split(" ", 1)[1].startswith("/") else key.split(" ", 1)[1] for key in EXEMPT
    }
    endpoints = {name for name, _route in object_routes()} | set(api_operations(Client()))
    missing = sorted(endpoints - covered - exempt)
    assert not missing, "add these to a tests/test_permissions.py TABLE (or EXEMPT): " + ", ".join(
        missing
    )


def test_exemptions_name_real_endpoints(db: None) -> None:
    known = {name for name, _route in object_routes()} | set(api_operations(Client()))
    stale = [key for key in EXEMPT if key not in known and key.split(" ", 1)[1] not in known]
    assert not stale, f"exempted endpoints that no longer exist: {stale}"


def test_table_entries_name_real_endpoints(db: None) -> None:
    # Any page or operation may have entries (a report page's filters are scoped too, and a
    # list answers each role its own rows), not only those that take an object id.
    known = {name for name, _route in ui_routes()} | set(
        api_operations(Client(), with_parameter=False)
    )
    unknown = sorted(tabled() - known)
    assert not unknown, f"table entries for endpoints that do not exist: {unknown}"
