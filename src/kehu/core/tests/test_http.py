"""The one safe-redirect check (``core.http.safe_url``) and the views that follow ``next``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from kehu.core.http import safe_url
from kehu.core.testing.factories import Organisation
from kehu.followups import services

# Each is read by some browser as another host, or as a scheme of its own.
UNSAFE = [
    "https://evil.example/phish",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "https:evil.example",
    "http:/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "\x00//evil.example",
    " //evil.example",
    "\t//evil.example",
    "https://testserver@evil.example/",
    "https://evil.example\\@testserver/",
]
SAFE = ["/followups/", "/customers/?q=上海&page=2", "http://testserver/followups/"]


@pytest.mark.parametrize("url", UNSAFE)
def test_other_hosts_and_schemes_fall_back(url: str) -> None:
    request = RequestFactory().get("/")
    assert safe_url(request, url, "/fallback/") == "/fallback/"


@pytest.mark.parametrize("url", SAFE)
def test_own_paths_are_kept(url: str) -> None:
    assert safe_url(RequestFactory().get("/"), url, "/fallback/") == url


def test_missing_url_falls_back_to_a_url_name_or_nothing() -> None:
    request = RequestFactory().get("/")
    assert safe_url(request, None, "followups:my_day") == reverse("followups:my_day")
    assert safe_url(request, "", "/") == "/"
    assert safe_url(request, "//evil.example", "") == ""


def test_https_page_does_not_step_down_to_http() -> None:
    request = RequestFactory().get("/", secure=True)
    assert safe_url(request, "http://testserver/x/", "/") == "/"
    assert safe_url(request, "https://testserver/x/", "/") == "https://testserver/x/"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["https://evil.example/phish", "//evil.example", "/\\evil"])
def test_task_action_does_not_follow_next_off_site(org: Organisation, url: str) -> None:
    task = services.task_create(
        actor=org.rep, assignee=org.rep, title="回访", due_at=timezone.now() + timedelta(days=1)
    )
    client = Client()
    client.force_login(org.rep)
    answer = client.post(reverse("followups:task_action", args=[task.pk, "done"]), {"next": url})
    assert answer.status_code == 302
    assert answer["Location"] == reverse("followups:my_day")
    own = reverse("followups:task_detail", args=[task.pk])
    task2 = services.task_create(
        actor=org.rep, assignee=org.rep, title="再访", due_at=timezone.now() + timedelta(days=1)
    )
    kept = client.post(reverse("followups:task_action", args=[task2.pk, "done"]), {"next": own})
    assert kept["Location"] == own


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["https://evil.example/phish", "//evil.example", "https:evil"])
def test_login_does_not_follow_next_off_site(org: Organisation, url: str) -> None:
    org.rep.set_password("pw-12345678")
    org.rep.save()
    answer = Client().post(
        reverse("accounts:login"),
        {"username": org.rep.username, "password": "pw-12345678", "next": url},
    )
    assert answer.status_code == 302
    assert "evil" not in answer["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["https://evil.example/phish", "//evil.example", "/\\evil"])
def test_logout_does_not_follow_next_off_site(org: Organisation, url: str) -> None:
    client = Client()
    client.force_login(org.rep)
    answer = client.post(reverse("accounts:logout"), {"next": url})
    assert answer.status_code == 302
    assert "evil" not in answer["Location"]
    kept = Client()
    kept.force_login(org.rep)
    assert kept.post(reverse("accounts:logout"), {"next": "/customers/"})["Location"] == (
        "/customers/"
    )


@pytest.mark.django_db
def test_language_switch_does_not_follow_next_off_site() -> None:
    answer = Client().post(
        reverse("accounts:set_language"), {"language": "en", "next": "//evil.example/x"}
    )
    assert answer.status_code == 302
    assert answer["Location"] == "/"


# --- Cache-Control of answers with personal data ---------------------------------------------


def directives(response: Any) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part}


@pytest.mark.django_db
def test_pages_and_api_for_a_signed_in_user_are_private_and_not_stored(
    org: Organisation,
) -> None:
    from kehu.core.testing.factories import api_client

    client = Client()
    client.force_login(org.rep)
    for url in (reverse("customers:list"), reverse("followups:my_day"), "/api/v1/customers"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert {"private", "no-store"} <= directives(response), url
    token = api_client(org.rep).get("/api/v1/customers")
    assert token.status_code == 200
    assert {"private", "no-store"} <= directives(token)


@pytest.mark.django_db
def test_a_view_that_chose_its_caching_keeps_it(org: Organisation) -> None:
    from kehu.followups.models import CalendarFeed

    feed = CalendarFeed.objects.create(user=org.rep)
    url = reverse("followups:ics_feed", args=[feed.token])
    assert directives(Client().get(url)) == {"private", "max-age=300"}
    client = Client()
    client.force_login(org.rep)
    assert directives(client.get(url)) == {"private", "max-age=300"}
