"""Kehu installs as a web app: the manifest, its icons, the service worker and the offline
page (issue 33). The offline page is safe to cache: it names nobody."""

from __future__ import annotations

import json
import struct

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from kehu.accounts.models import Role
from kehu.core.testing.factories import make_user

pytestmark = pytest.mark.django_db


def png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as image:
        head = image.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_manifest_is_valid_json_with_icons_that_exist(client: Client) -> None:
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/manifest+json")
    manifest = json.loads(response.content)
    assert manifest["name"] == "客户 Kehu"
    assert manifest["display"] == "standalone"
    assert manifest["scope"] == "/"
    assert manifest["start_url"] == "/followups/"
    assert manifest["theme_color"].startswith("#")
    sizes = {}
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/")
        assert client.get(icon["src"]).status_code == 200
        if icon["type"] == "image/png":
            found = finders.find(icon["src"].removeprefix("/static/"))
            sizes[icon["sizes"]] = png_size(found)
    assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}


def test_every_page_links_the_manifest_and_sets_the_theme_colour(client: Client) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<meta name="theme-color"' in page
    assert 'data-service-worker="/sw.js"' in page


def test_the_service_worker_is_javascript_for_the_whole_site(client: Client) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    config = json.loads(body.split("const CONFIG = ", 1)[1].split(";\n", 1)[0])
    assert config["offline"] == "/offline/"
    # It keeps the offline page and static files only: never a page with customers on it.
    assert all(url.startswith("/static/") for url in config["assets"])
    assert client.get(config["offline"]).status_code == 200


def test_the_offline_page_names_nobody_even_for_a_signed_in_user(client: Client) -> None:
    rep = make_user(Role.SALES, username="xiaoli", display_name="李小龙")
    client.force_login(rep)
    response = client.get("/offline/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="offline-page"' in page
    assert "xiaoli" not in page
    assert "李小龙" not in page
    assert "csrf" not in page.lower()
