"""Every form of every page, posted with bad values (issue 34).

The pages come from the URL resolver (like ``test_permission_tables``), filled with the ids of
a small demo company; each is fetched as an admin and its ``<form method=post>`` (and htmx
``hx-post``) controls are collected. Each form is then posted five times:

- ``empty``: every field blank;
- ``oversized``: every field 10,000 characters long;
- ``non_numeric``: every id, number or version field ``"abc"``, the rest as the page filled it;
- ``non_numeric_choice``: every choice of ids (an owner, a stage) ``"abc"``;
- ``unknown``: every choice a value that is not offered, plus a field the form does not know.

Every POST route is also posted with only an unknown field, so a route no page links to
is fuzzed too. The test passes when no answer is a 500 and a rejected post (a 4xx, a form
with errors or an error message) wrote nothing: each table's row count, highest id and
latest ``updated_at`` are the same after it as before. Each post runs in a savepoint that is
rolled back, so every post starts from the same data. A failure lists each bad request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.apps import apps
from django.contrib.messages import constants as message_levels
from django.db import models, transaction
from django.forms import BaseForm
from django.test import Client

from kehu.core.testing.fuzzdata import seed_company
from kehu.core.testing.permissions import flashed, ui_routes

OVERSIZED = "x" * 10_000
UNKNOWN = "999999999"
NUMERIC_NAME = re.compile(r"(^|_)(id|ids|pk|version|position|order|page|amount|probability)$")

# Routes that are not posted: why.
NOT_POSTED: dict[str, str] = {
    "accounts:logout": "signs the admin out: every later post would be a redirect to login",
    "accounts:login": "a sign-in: its failures are counted by design (login lockout, axes)",
}

# Tables a rejected post may write by design: why.
WRITTEN_BY_DESIGN: dict[str, str] = {
    "django_session": "the signed-in session is saved on every request",
}


@dataclass
class Form:
    """One ``<form method=post>`` (or ``hx-post`` control) found on a page."""

    page: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> the value the page gave
    choices: dict[str, list[str]] = field(default_factory=dict)  # select name -> options
    numeric: set[str] = field(default_factory=set)  # ids, numbers, versions typed in or hidden
    numeric_choices: set[str] = field(default_factory=set)  # selects of ids
    files: set[str] = field(default_factory=set)

    def key(self) -> tuple[str, tuple[str, ...]]:
        return re.sub(r"\d+", "N", urlsplit(self.action).path), tuple(sorted(self.fields))


class FormParser(HTMLParser):
    """Collects the post forms of a page; a good-enough reading of the templates' HTML."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.by_id: dict[str, Form] = {}
        self.select: str | None = None
        self.textarea: str | None = None
        self.owner: Form | None = None  # of the open select or textarea
        self.outside: list[tuple[str, str, dict[str, str]]] = []  # (form id, tag, attrs)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.start_form(attr)
        elif attr.get("hx-post") and self.current is None:
            control = Form(self.page, urljoin(self.page, attr["hx-post"]))
            if attr.get("name"):
                self.add_input(control, tag, attr["name"], attr)
            self.forms.append(control)
        if tag == "option" and self.select and self.owner is not None:
            self.add_option(self.owner, self.select, attr)
            return
        name = attr.get("name")
        if not name or tag not in ("input", "button", "select", "textarea"):
            return
        if attr.get("form"):  # a control outside its form, tied by id (bulk checkboxes)
            self.outside.append((attr["form"], tag, attr))
            if tag == "select":
                self.owner, self.select = None, None
            return
        if self.current is not None:
            self.add_control(self.current, tag, name, attr)

    def add_control(self, form: Form, tag: str, name: str, attr: dict[str, str]) -> None:
        if tag in ("input", "button"):
            self.add_input(form, tag, name, attr)
        elif tag == "select":
            self.select, self.owner = name, form
            form.fields.setdefault(name, "")
            form.choices.setdefault(name, [])
        elif tag == "textarea":
            self.textarea, self.owner = name, form
            form.fields[name] = ""

    @staticmethod
    def add_option(form: Form, select: str, attr: dict[str, str]) -> None:
        value = attr.get("value", "")
        form.choices[select].append(value)
        if "selected" in attr or not form.fields[select]:
            form.fields[select] = value
        if value.isdigit():
            form.numeric_choices.add(select)

    def close(self) -> None:
        super().close()
        for form_id, tag, attr in self.outside:
            if form_id in self.by_id:
                self.add_control(self.by_id[form_id], tag, attr["name"], attr)
        self.select = self.textarea = None

    def start_form(self, attr: dict[str, str]) -> None:
        action = attr.get("hx-post") or attr.get("action") or self.page
        if attr.get("method", "get").lower() == "post" or attr.get("hx-post"):
            self.current = Form(self.page, urljoin(self.page, action))
            self.forms.append(self.current)
            if attr.get("id"):
                self.by_id[attr["id"]] = self.current
        else:
            self.current = None

    @staticmethod
    def add_input(form: Form, tag: str, name: str, attr: dict[str, str]) -> None:
        kind = (attr.get("type") or ("submit" if tag == "button" else "text")).lower()
        value = attr.get("value", "")
        if kind == "file":
            form.files.add(name)
            return
        if kind in ("checkbox", "radio") and name in form.fields and "checked" not in attr:
            return
        if kind in ("submit", "button") and name in form.fields:
            return
        form.fields[name] = value
        if kind == "number" or NUMERIC_NAME.search(name) or (value.isdigit() and kind != "text"):
            form.numeric.add(name)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.owner is not None and self.textarea:
            self.owner.fields[self.textarea] += data


VARIANTS: dict[str, Callable[[Form], dict[str, Any]]] = {
    "empty": lambda form: dict.fromkeys(form.fields, ""),
    "oversized": lambda form: dict.fromkeys(form.fields, OVERSIZED),
    "non_numeric": lambda form: {
        **form.fields,
        **dict.fromkeys(form.numeric, "abc"),
    },
    "non_numeric_choice": lambda form: {
        **form.fields,
        **dict.fromkeys(form.numeric_choices, "abc"),
    },
    "unknown": lambda form: {
        **form.fields,
        **dict.fromkeys(form.choices, UNKNOWN),
        "kehu_unknown_field": "?",
    },
}


# ---- the data ------------------------------------------------------------------------------


def route_values(found: dict[str, list[Any]]) -> dict[str, Any]:
    """One value per route parameter: the first object of each kind, and fixed words."""
    values: dict[str, Any] = {
        "tab": "contacts",
        "action": "done",
        "kind": "customers",
        "model_label": "customers.customer",
    }
    values.update({name: ids[0] for name, ids in found.items() if ids})
    values.setdefault("object_id", values.get("customer_id"))
    return values


def fingerprint() -> dict[str, tuple[Any, ...]]:
    """Per table: rows, highest id and latest ``updated_at`` (a write moves one of them)."""
    found: dict[str, tuple[Any, ...]] = {}
    for model in apps.get_models():
        table = model._meta.db_table
        # unmanaged models are views of other tables (the SQLite-only search index): their
        # rows follow the tables they index, and they do not exist on every database
        if table in WRITTEN_BY_DESIGN or not model._meta.managed:
            continue
        aggregates: dict[str, Any] = {"rows": models.Count("pk"), "top": models.Max("pk")}
        names = {f.name for f in model._meta.concrete_fields}
        if "updated_at" in names:
            aggregates["updated"] = models.Max("updated_at")
        if "version" in names:
            aggregates["versions"] = models.Sum("version")
        found[table] = tuple(model._base_manager.aggregate(**aggregates).values())
    return found


# ---- the requests --------------------------------------------------------------------------


def fill(route: str, values: dict[str, Any]) -> str | None:
    """The route with each ``<conv:name>`` filled from ``values``; None if one is unknown."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name not in values:
            missing = True
            return ""
        return str(values[name])

    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)
    return None if missing else path


def pages(values: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name, route in ui_routes():
        path = fill(route, values)
        if path is not None and name not in NOT_POSTED:
            yield name, path


def collect_forms(client: Client, values: dict[str, Any]) -> list[Form]:
    found: dict[tuple[str, tuple[str, ...]], Form] = {}
    for _name, path in pages(values):
        response = client.get(path)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = FormParser(path)
        parser.feed(response.content.decode())
        parser.close()
        for form in parser.forms:
            if urlsplit(form.action).path.startswith("/accounts/log"):
                continue
            found.setdefault(form.key(), form)
    return list(found.values())


def rejected(response: Any) -> bool:
    """A 4xx, an error message, or a page re-rendered with a form's errors."""
    if 400 <= response.status_code < 500:
        return True
    if any(level >= message_levels.ERROR for level, _text in flashed(response)):
        return True
    context = response.context
    contexts = [] if context is None else [context] if hasattr(context, "flatten") else context
    for each in contexts:
        for value in each.flatten().values():
            if isinstance(value, BaseForm) and value.is_bound and value.errors:
                return True
    return False


def post(client: Client, url: str, data: dict[str, Any], baseline: dict[str, Any]) -> str | None:
    """Post in a savepoint that is rolled back; what went wrong, if anything."""
    with transaction.atomic():
        response = client.post(url, data)
        problem = None
        if response.status_code >= 500:
            problem = f"{response.status_code}"
        elif rejected(response):
            after = fingerprint()
            changed = sorted(table for table in baseline if after.get(table) != baseline[table])
            if changed:
                problem = f"{response.status_code} rejected but wrote {changed}"
        transaction.set_rollback(True)
    return problem


def describe(url: str, variant: str, data: dict[str, Any], problem: str) -> str:
    shown = {
        key: (value[:20] + "…" if len(str(value)) > 20 else value) for key, value in data.items()
    }
    return f"POST {url} [{variant}] {shown} -> {problem}"


def url_name(url: str) -> str:
    from django.urls import Resolver404, resolve

    try:
        return resolve(urlsplit(url).path).view_name
    except Resolver404:
        return "?"


@pytest.mark.django_db
def test_every_form_rejects_bad_values_without_a_500_or_a_write(
    settings: Any, tmp_path: Path
) -> None:
    from kehu.accounts.models import User

    started = time.perf_counter()
    settings.MEDIA_ROOT = tmp_path / "media"
    values = route_values(seed_company(customers=12, files=tmp_path / "uploads"))
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(username="admin"))
    forms = collect_forms(client, values)
    baseline = fingerprint()
    problems: list[str] = []
    posts = 0
    for form in forms:
        for variant, make in VARIANTS.items():
            data = make(form)
            posts += 1
            problem = post(client, form.action, data, baseline)
            if problem:
                problems.append(describe(form.action, variant, data, problem))
    for _name, path in pages(values):
        posts += 1
        problem = post(client, path, {"kehu_unknown_field": "?"}, baseline)
        if problem:
            problems.append(describe(path, "route", {}, problem))
    seconds = time.perf_counter() - started
    assert len(forms) > 40, f"only {len(forms)} forms found: is the page parsing broken?"
    assert not problems, f"{len(problems)} of {posts} posts ({seconds:.0f}s):\n" + "\n".join(
        problems
    )
