"""Three-way permission tables: every URL and API operation that takes an object, per actor.

Modelled on NetBox's view tests (``netbox/utilities/testing/views.py``): each app's
``tests/test_permissions.py`` declares a ``TABLE`` of ``Endpoint`` entries, short and
declarative, and this base turns every entry into one pytest case per actor kind:

- ``anonymous``: the UI answers 302 to the login page, the API 401 with its JSON error body;
- ``may``: a role allowed to act answers the entry's success status (a UI write redirects
  with a success message and no error message; ``silent`` views flash only failures);
- ``may_not``: a role that sees the record but may not act answers 403;
- ``out_of_scope``: the right role on another team's record answers 404 (it must not leak).

``MASKS`` entries check the fields a role sees masked (docs/permissions.md).

Each case builds the organisation and its objects afresh (pytest-django rolls every test
back), so writes never see another case's changes. A case whose product behaviour breaks a
rule is listed in the entry's ``defects`` and runs as a strict xfail naming the defect.
``kehu.core.tests.test_permission_tables`` fails for an endpoint that is in no table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import pytest
from django.contrib.messages import constants as message_levels
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from kehu.core.testing.factories import Organisation, api_client

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

API_PREFIX = "/api/v1"
KINDS = ("anonymous", "may", "may_not", "out_of_scope")

# Builds the objects an entry acts on, for one organisation; the keys that name the route's
# parameters fill its path, every key is handed to ``body``.
Factory = Callable[[Organisation], dict[str, Any]]
Body = Mapping[str, Any] | Callable[[Organisation, dict[str, Any]], Mapping[str, Any]] | None


class Roles(TypedDict, total=False):
    """The actors of an entry, for tables that share them between entries (``**WRITE``)."""

    may: Sequence[str]
    may_not: Sequence[str]
    out_of_scope: Sequence[str]


@dataclass(frozen=True)
class Endpoint:
    """One UI URL or API operation that takes an object.

    ``target`` is ``"METHOD name"``: a URL name (``"POST customers:status"``) or an API path
    under /api/v1 as the OpenAPI document spells it (``"PATCH /customers/{customer_id}"``).
    ``may``, ``may_not`` and ``out_of_scope`` name users of ``Organisation`` (``"rep"``,
    ``"east_manager"``, ...). ``defects`` maps ``"kind:actor"`` (or ``"kind:*"``, every actor
    of the kind) to what is wrong, for the cases that break a rule today.
    """

    target: str
    make: Factory
    may: Sequence[str]
    may_not: Sequence[str] = ()
    out_of_scope: Sequence[str] = ("south_rep",)
    body: Body = None
    status: int | None = None
    multipart: bool = False
    label: str = ""  # tells apart entries of one target (e.g. the action in the path)
    silent: bool = False  # a UI write that redirects without a success message
    defects: Mapping[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.target.split(" ", 1)[0]

    @property
    def name(self) -> str:
        return self.target.split(" ", 1)[1]

    @property
    def is_api(self) -> bool:
        return self.name.startswith("/")

    def success_status(self) -> int:
        if self.status is not None:
            return self.status
        if self.is_api:
            return {"DELETE": 204}.get(self.method, 200)
        return 200 if self.method == "GET" else 302

    def url(self, objects: dict[str, Any]) -> str:
        params = {key: value for key, value in objects.items() if not key.startswith("_")}
        if self.is_api:
            return API_PREFIX + self.name.format(**params)
        return reverse(self.name, kwargs=params)

    def payload(self, org: Organisation, objects: dict[str, Any]) -> dict[str, Any]:
        if self.body is None:
            return {}
        return dict(self.body(org, objects) if callable(self.body) else self.body)

    def actors(self, kind: str) -> Sequence[str]:
        return {
            "anonymous": ("nobody",),
            "may": self.may,
            "may_not": self.may_not,
            "out_of_scope": self.out_of_scope,
        }[kind]


@dataclass(frozen=True)
class Masked:
    """What ``actor`` reads of an object: ``shows`` maps a dotted JSON path (API) to its
    expected value, or for a page a text that must appear to True; ``hides`` are texts that
    must not appear anywhere in the answer."""

    target: str
    make: Factory
    actor: str
    shows: Mapping[str, Any] = field(default_factory=dict)
    hides: Sequence[str] = ()
    defect: str = ""

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.target, self.make, may=(self.actor,))


def cases(table: Sequence[Endpoint]) -> list[Any]:
    """One ``pytest.param(entry, kind, actor)`` per entry, actor kind and actor."""
    params = []
    for entry in table:
        for kind in KINDS:
            for actor in entry.actors(kind):
                marks = []
                reason = entry.defects.get(f"{kind}:{actor}") or entry.defects.get(f"{kind}:*")
                if reason:
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                label = f"[{entry.label}]" if entry.label else ""
                case_id = f"{entry.target}{label}-{kind}-{actor}"
                params.append(pytest.param(entry, kind, actor, id=case_id, marks=marks))
    return params


def mask_cases(masks: Sequence[Masked]) -> list[Any]:
    return [
        pytest.param(
            mask,
            id=f"{mask.target}-{mask.actor}",
            marks=[pytest.mark.xfail(strict=True, reason=mask.defect)] if mask.defect else [],
        )
        for mask in masks
    ]


def client_for(entry: Endpoint, org: Organisation, actor: str) -> Client:
    if actor == "nobody":
        return Client()
    user = getattr(org, actor)
    if entry.is_api:
        return api_client(user)
    client = Client()
    client.force_login(user)
    return client


def send(entry: Endpoint, org: Organisation, actor: str, objects: dict[str, Any]) -> Response:
    client = client_for(entry, org, actor)
    url = entry.url(objects)
    payload = entry.payload(org, objects)
    method = getattr(client, entry.method.lower())
    if entry.method == "GET":
        return method(url, payload)
    if entry.is_api and not entry.multipart:
        return method(url, json.dumps(payload, default=str), content_type="application/json")
    return method(url, payload)


def flashed(response: Response) -> list[tuple[int, str]]:
    """(level, text) of the flash messages a UI request left for the next page."""
    request = getattr(response, "wsgi_request", None)
    stored = getattr(request, "_messages", None)
    if stored is None:
        return []
    return [(m.level, str(m)) for m in stored._queued_messages]


def check_ui_success(entry: Endpoint, response: Response) -> None:
    """A UI write that redirects must say it did something (views redirect on failures too)."""
    messages = flashed(response)
    assert not [text for level, text in messages if level >= message_levels.ERROR], messages
    assert "/accounts/login" not in response.get("Location", ""), describe(response)
    if response.status_code == 302 and not entry.silent:
        assert [text for level, text in messages if level < message_levels.ERROR], (
            f"no success message: {describe(response)}"
        )


def describe(response: Response) -> str:
    body = getattr(response, "content", b"")[:300]
    return f"{response.status_code} {response.get('Location', '')} {body!r}"


def ui_routes() -> Iterator[tuple[str, str]]:
    """(URL name, route) of every named UI pattern outside the API and the Django admin."""

    def walk(resolver: URLResolver, prefix: str, namespace: str) -> Iterator[tuple[str, str]]:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                yield from walk(pattern, prefix + str(pattern.pattern), inner or "")
            elif isinstance(pattern, URLPattern) and pattern.name:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                yield name, prefix + str(pattern.pattern)

    for name, route in walk(get_resolver(), "", ""):
        if not route.startswith(("api/", "admin/")):
            yield name, route


def placeholder_url(entry: Endpoint) -> str:
    """The entry's URL with every parameter 1: enough for a request that must not get past
    authentication, so the anonymous cases build no users and no objects."""
    if entry.is_api:
        return API_PREFIX + re.sub(r"\{[^}]+\}", "1", entry.name)
    route = dict(ui_routes())[entry.name]
    return "/" + re.sub(r"<[^>]+>", "1", route)


def run(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    """One case of a table; the organisation is built for signed-in actors only."""
    if kind == "anonymous":
        client = Client()
        check_anonymous(entry, getattr(client, entry.method.lower())(placeholder_url(entry)))
        return
    check(entry, kind, actor, request.getfixturevalue("org"))


def check(entry: Endpoint, kind: str, actor: str, org: Organisation) -> None:
    """Run one case: build the objects, send the request as ``actor``, check the answer."""
    objects = entry.make(org)
    response = send(entry, org, actor, objects)
    if kind == "anonymous":
        check_anonymous(entry, response)
    elif kind == "may":
        assert response.status_code == entry.success_status(), describe(response)
        if not entry.is_api:
            check_ui_success(entry, response)
    elif kind == "may_not":
        assert response.status_code == 403, describe(response)
        if entry.is_api:
            assert response.json()["code"] == "forbidden", describe(response)
    else:
        assert response.status_code == 404, describe(response)
        if entry.is_api:
            assert response.json()["code"] == "not_found", describe(response)


def check_anonymous(entry: Endpoint, response: Response) -> None:
    if entry.is_api:
        assert response.status_code == 401, describe(response)
        assert response.json()["code"] == "not_authenticated"
        return
    assert response.status_code == 302, describe(response)
    assert response["Location"].startswith(reverse("accounts:login")), describe(response)


def dotted(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def check_mask(mask: Masked, org: Organisation) -> None:
    entry = mask.endpoint
    objects = mask.make(org)
    response = send(entry, org, mask.actor, objects)
    assert response.status_code == 200, describe(response)
    text = response.content.decode()
    if entry.is_api:
        data = response.json()
        for path, expected in mask.shows.items():
            assert dotted(data, path) == expected, (path, dotted(data, path))
    else:
        for shown in mask.shows:
            assert shown in text, shown
    for hidden in mask.hides:
        assert hidden not in text, hidden
