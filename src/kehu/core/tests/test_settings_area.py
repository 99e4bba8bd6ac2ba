"""The settings area: /api/v1/settings and the pages, admins only, with reasons and history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from kehu.core import config
from kehu.core.models import SettingChange
from kehu.core.testing.factories import Organisation, api_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(org: Organisation, settings: Any) -> Iterator[None]:
    settings.LANGUAGE_CODE = "en"  # the messages compared below are the English ones
    org.admin.language = "en"
    org.admin.save(update_fields=["language"])
    with translation.override("en"):
        yield


def put(client: Client, key: str, body: dict[str, Any]) -> Any:
    return client.put(f"/api/v1/settings/{key}", json.dumps(body), content_type="application/json")


def test_the_list_carries_every_setting_with_its_metadata(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = api_client(org.admin)
    config.put("opportunities.stalled_days", 10, actor=org.admin, reason="周会决定")
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/settings")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(config.DEFAULTS)
    stalled = next(item for item in body["items"] if item["key"] == "opportunities.stalled_days")
    spec = config.DEFAULTS["opportunities.stalled_days"]
    with translation.override("en"):  # the admin's language
        label, group_label, unit = str(spec.label), spec.group_label, str(spec.unit)
    assert stalled | {"changed_at": None} == {
        "key": "opportunities.stalled_days",
        "label": label,
        "group": "opportunities",
        "group_label": group_label,
        "kind": "int",
        "unit": unit,
        "minimum": 1,
        "maximum": 365,
        "choices": [],
        "optional_fields": [],
        "help": stalled["help"],
        "default": 7,
        "value": 10,
        "is_default": False,
        "changed_at": None,
        "changed_by": str(org.admin),
    }
    assert stalled["help"]
    groups = [item["group"] for item in body["items"]]
    assert groups.index("customers") < groups.index("leads") < groups.index("system")
    only = client.get("/api/v1/settings", {"group": "leads"}).json()
    assert {item["group"] for item in only["items"]} == {"leads"}


def test_put_changes_the_value_and_records_who_and_why(org: Organisation) -> None:
    client = api_client(org.admin)
    response = put(
        client,
        "leads.first_contact_hours",
        {
            "value": {"S": 12, "A": 48, "B": 120},
            "reason": "提速",
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["value"] == {"S": 12, "A": 48, "B": 120}
    assert config.get("leads.first_contact_hours") == {"S": 12, "A": 48, "B": 120}
    history = client.get("/api/v1/settings/leads.first_contact_hours/history").json()
    assert history["count"] == 1
    change = history["items"][0]
    assert change["old_value"] == {"S": 24, "A": 72, "B": 168}
    assert change["new_value"] == {"S": 12, "A": 48, "B": 120}
    assert change["changed_by_id"] == org.admin.pk
    assert change["reason"] == "提速"
    reset = client.post(
        "/api/v1/settings/leads.first_contact_hours/reset",
        json.dumps({"reason": "恢复"}),
        content_type="application/json",
    )
    assert reset.json()["is_default"] is True
    assert client.get("/api/v1/settings/history").json()["count"] == 2


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("opportunities.stalled_days", 0, "Must be at least 1."),
        ("opportunities.stalled_days", "seven", "Enter a whole number."),
        ("leads.batch_time", "9 o'clock", "Enter a time as HH:MM (00:00 to 23:59)."),
        ("leads.default_priority", "Z", "Choose one of: S, A, B."),
        ("transfer.export_roles", ["admin", "boss"], "item 2: Choose one of:"),
        ("customers.grade_rules", [{"grade": "A"}], "row 1: Missing: min_amount, min_orders."),
        ("customers.number_pattern", "{city}-{seq}", "Use only the fields"),
    ],
)
def test_a_bad_value_is_a_422_naming_the_key(
    org: Organisation, key: str, value: Any, message: str
) -> None:
    response = put(api_client(org.admin), key, {"value": value, "reason": "试试"})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert list(errors) == [key]
    assert errors[key][0].startswith(message)
    assert not SettingChange.objects.exists()


def test_a_reason_is_required_and_unknown_keys_are_404(org: Organisation) -> None:
    client = api_client(org.admin)
    response = put(client, "opportunities.stalled_days", {"value": 9, "reason": "  "})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["reason"]
    assert put(client, "no.such", {"value": 1, "reason": "x"}).status_code == 404
    assert client.get("/api/v1/settings/no.such").status_code == 404


def test_only_admins_see_or_change_settings(org: Organisation) -> None:
    for user in (org.east_manager, org.rep, org.marketing):
        client = api_client(user)
        assert client.get("/api/v1/settings").status_code == 403
        assert (
            put(client, "opportunities.stalled_days", {"value": 9, "reason": "x"}).status_code
            == 403
        )
        page = Client()
        page.force_login(user)
        assert page.get(reverse("settings:index")).status_code == 403
    assert config.get("opportunities.stalled_days") == 7


def test_the_page_lists_the_chapters_in_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = Client()
    client.force_login(org.admin)
    for key in ("leads.batch_time", "followups.record_within_hours", "analytics.quiet_days"):
        spec = config.DEFAULTS[key]
        value = "08:00" if spec.kind == "str" else spec.default + 1
        config.put(key, value, actor=org.admin, reason="test")
    with django_assert_max_num_queries(12):
        response = client.get(reverse("settings:index"))
    page = response.content.decode()
    assert response.status_code == 200
    for label in config.GROUPS.values():
        if any(spec.group_label == str(label) for spec in config.DEFAULTS.values()):
            assert str(label) in page
    assert reverse("settings:edit", args=["customers.grade_rules"]) in page


def test_the_editor_saves_with_a_reason_and_shows_the_fields_error(org: Organisation) -> None:
    client = Client()
    client.force_login(org.admin)
    url = reverse("settings:edit", args=["opportunities.stalled_days"])
    bad = client.post(url, {"value": "400", "reason": "太长"})
    assert bad.status_code == 422
    assert "Must be at most 365." in bad.content.decode()
    no_reason = client.post(url, {"value": "10", "reason": ""})
    assert no_reason.status_code == 422
    assert config.get("opportunities.stalled_days") == 7
    good = client.post(url, {"value": "10", "reason": "周会决定"})
    assert good.status_code == 302
    assert config.get("opportunities.stalled_days") == 10
    page = client.get(url).content.decode()
    assert "周会决定" in page
    reset = client.post(
        reverse("settings:reset", args=["opportunities.stalled_days"]), {"reason": "恢复"}
    )
    assert reset.status_code == 302
    assert config.get("opportunities.stalled_days") == 7


def test_rows_dicts_and_lists_have_editors(org: Organisation) -> None:
    client = Client()
    client.force_login(org.admin)
    rules = reverse("settings:edit", args=["customers.grade_rules"])
    assert 'name="row-0-min_amount"' in client.get(rules).content.decode()
    response = client.post(
        rules,
        {
            "row-0-grade": "A",
            "row-0-min_amount": "800000",
            "row-0-min_orders": "12",
            "row-0-min_satisfaction": "4",
            "row-1-grade": "B",
            "row-1-min_amount": "100000",
            "row-1-min_orders": "3",
            "row-2-grade": "C",
            "row-2-min_amount": "1",
            "row-2-min_orders": "1",
            "row-2-DELETE": "on",
            "row-3-grade": "",
            "reason": "新标准",
        },
    )
    assert response.status_code == 302, response.content.decode()
    assert config.get("customers.grade_rules") == [
        {"grade": "A", "min_amount": 800000, "min_orders": 12, "min_satisfaction": 4.0},
        {"grade": "B", "min_amount": 100000, "min_orders": 3},
    ]
    bad = client.post(
        rules,
        {"row-0-grade": "A", "row-0-min_amount": "-5", "row-0-min_orders": "x", "reason": "x"},
    )
    assert bad.status_code == 422
    assert "row 1, min_orders: Enter a number." in bad.content.decode()
    hours = reverse("settings:edit", args=["leads.first_contact_hours"])
    response = client.post(
        hours, {"value__S": "12", "value__A": "48", "value__B": "96", "reason": "提速"}
    )
    assert response.status_code == 302
    assert config.get("leads.first_contact_hours") == {"S": 12, "A": 48, "B": 96}
    roles = reverse("settings:edit", args=["transfer.export_roles"])
    client.post(roles, {"value": ["admin", "manager"], "reason": "经理也可导出"})
    assert config.get("transfer.export_roles") == ["admin", "manager"]
    days = reverse("settings:edit", args=["service.work_days"])
    client.post(days, {"value": ["1", "2", "3", "4", "5", "6"], "reason": "周六上班"})
    assert config.get("service.work_days") == [1, 2, 3, 4, 5, 6]
    types = reverse("settings:edit", args=["followups.attachment_extensions"])
    client.post(types, {"value": "pdf\njpg\n\n", "reason": "只收两种"})
    assert config.get("followups.attachment_extensions") == ["pdf", "jpg"]
