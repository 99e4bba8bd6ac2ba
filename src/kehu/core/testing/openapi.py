"""Responses checked against the API's own OpenAPI document, as a client generated from it
would read them."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema_rs
import orjson


@cache
def _document() -> dict[str, Any]:
    from kehu.api import api  # the wiring layer; tests may import anything

    # As served (/api/v1/openapi.json): JSON, whose keys are strings (status codes included).
    return dict(
        orjson.loads(orjson.dumps(api.get_openapi_schema(), option=orjson.OPT_NON_STR_KEYS))
    )


def response_errors(method: str, path: str, status: int, body: Any) -> list[str]:
    """What in ``body`` violates the schema the document declares for ``method path status``
    (``path`` as the document spells it: ``/api/v1/followups/{followup_id}``)."""
    document = _document()
    operation = document["paths"][path][method.lower()]
    declared = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.Draft202012Validator(
        {**declared, "components": document["components"]}
    )
    return [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)
    ]


def api_schema_names() -> dict[str, list[str]]:
    """Each component name of the document with the classes that claim it: OpenAPI keys
    schemas by class name, so two classes of one name make one of them wrong."""
    from ninja import Schema

    found: dict[str, list[str]] = {}
    pending = list(Schema.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("kehu.") and cls.__module__.endswith(".api"):
            found.setdefault(cls.__name__, []).append(f"{cls.__module__}.{cls.__qualname__}")
    return found
