"""The menu marks one entry active: the page's, even when several entries share a URL
namespace (campaigns, segments and message templates all live under ``campaigns:``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from kehu.core.navigation import menu_for
from kehu.core.testing.factories import Organisation

pytestmark = pytest.mark.django_db


def _active(client: Any, url: str) -> list[str]:
    html = client.get(url).content.decode()
    return re.findall(r'<a class="nav-link active" href="([^"]+)"', html)


@pytest.mark.parametrize(
    ("page", "entry"),
    [
        ("campaigns:list", "campaigns:list"),
        ("campaigns:segments", "campaigns:segments"),
        ("campaigns:segment_create", "campaigns:segments"),
        ("campaigns:templates", "campaigns:templates"),
        ("campaigns:template_add", "campaigns:templates"),
    ],
)
def test_one_active_entry_per_page(client: Any, org: Organisation, page: str, entry: str) -> None:
    client.force_login(org.marketing)
    assert _active(client, reverse(page)) == [reverse(entry)]


def test_a_page_outside_every_entry_marks_its_namespace_first_entry() -> None:
    menu = menu_for("marketing", False, "campaigns", "/elsewhere/")
    active = [entry["url"] for entry in menu if entry["active"]]
    assert active == [reverse("campaigns:list")]
    assert not any(entry["active"] for entry in menu_for("marketing", False, "", "/"))
