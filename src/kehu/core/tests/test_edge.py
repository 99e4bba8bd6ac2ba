"""Bad requests at the edge: credentials, bodies, content types, numbers. Each is a 4xx with the
API's JSON error body (or a 4xx page in the UI) and writes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from kehu.accounts.models import ApiToken
from kehu.core.testing.factories import Organisation, api_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/users/me/tokens"),
        ("patch", "/api/v1/pools/1"),
        ("delete", "/api/v1/users/me/tokens/1"),
    ],
)
def test_writes_without_credentials_answer_401_not_the_csrf_403(
    db: None, method: str, path: str
) -> None:
    browser = Client(enforce_csrf_checks=True)
    response = getattr(browser, method)(path, data={"name": "x"}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_session_without_the_csrf_token_is_still_403(org: Organisation) -> None:
    session = Client(enforce_csrf_checks=True)
    session.force_login(org.rep)
    response = session.post(
        "/api/v1/users/me/tokens", data={"name": "x"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not ApiToken.objects.exists()


def test_a_token_needs_no_csrf_token(org: Organisation) -> None:
    client = api_client(org.rep)
    client.handler.enforce_csrf_checks = True
    response = client.post(
        "/api/v1/users/me/tokens", data={"name": "x"}, content_type="application/json"
    )
    assert response.status_code == 201
