"""API conventions: auth, JSON errors everywhere, pagination, OpenAPI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.testing import TestClient

from kehu.accounts import services as accounts
from kehu.accounts.models import ApiToken
from kehu.core.api import install_error_handlers
from kehu.core.errors import Conflict, InvalidInput
from kehu.core.testing.factories import Organisation, api_client

pytestmark = pytest.mark.django_db


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_openapi_and_docs_are_served(client: Client) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert document["info"]["title"] == "Kehu CRM API"
    assert "/api/v1/users/me" in document["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_me_with_token_and_with_session(org: Organisation) -> None:
    assert api_client(org.rep).get("/api/v1/users/me").json()["username"] == "rep"
    session = Client()
    session.force_login(org.east_manager)
    me = session.get("/api/v1/users/me").json()
    assert me["role"] == "manager"
    assert me["department"]["name"] == "华东区"


@pytest.mark.parametrize(
    "header",
    ["", "Bearer ", "Bearer nonsense", "Bearer kehu_deadbeef_wrong", "Token abc", "Basic eDp5"],
)
def test_bad_credentials_answer_401_json(db: None, header: str) -> None:
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    response = client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_revoked_expired_and_deactivated_tokens_are_refused(org: Organisation) -> None:
    issued = accounts.token_create(user=org.rep, name="laptop")
    assert bearer(issued.plaintext).get("/api/v1/users/me").status_code == 200
    accounts.token_revoke(user=org.rep, token_id=issued.token.pk)
    assert bearer(issued.plaintext).get("/api/v1/users/me").status_code == 401

    expiring = accounts.token_create(user=org.rep, name="short")
    ApiToken.objects.filter(pk=expiring.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert bearer(expiring.plaintext).get("/api/v1/users/me").status_code == 401

    active = accounts.token_create(user=org.colleague, name="x")
    org.colleague.is_active = False
    org.colleague.save()
    assert bearer(active.plaintext).get("/api/v1/users/me").status_code == 401


def test_tokens_are_hashed_at_rest(org: Organisation) -> None:
    issued = accounts.token_create(user=org.rep, name="ci")
    stored = ApiToken.objects.get(pk=issued.token.pk)
    secret = issued.plaintext.rsplit("_", 1)[1]
    assert secret not in stored.secret_hash
    assert issued.plaintext.startswith(f"kehu_{stored.prefix}_")


def test_unknown_route_and_wrong_method_answer_json(org: Organisation) -> None:
    client = api_client(org.rep)
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found", "code": "not_found"}
    wrong_method = client.delete("/api/v1/users/me")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"
    assert Client().get("/api/nothing-here").json()["code"] == "not_found"


def test_session_write_without_csrf_is_refused_as_json(org: Organisation) -> None:
    session = Client(enforce_csrf_checks=True)
    session.force_login(org.rep)
    response = session.post(
        "/api/v1/users/me/tokens", data={"name": "x"}, content_type="application/json"
    )
    assert response.status_code in {401, 403}
    assert response["Content-Type"].startswith("application/json")
    assert not ApiToken.objects.exists()


def test_tokens_through_the_api(org: Organisation) -> None:
    client = api_client(org.rep)
    created = client.post(
        "/api/v1/users/me/tokens", data={"name": "phone"}, content_type="application/json"
    )
    assert created.status_code == 201
    plaintext = created.json()["token"]
    assert bearer(plaintext).get("/api/v1/users/me").json()["username"] == "rep"
    listed = client.get("/api/v1/users/me/tokens").json()
    assert all("token" not in item for item in listed)
    assert client.delete(f"/api/v1/users/me/tokens/{created.json()['id']}").status_code == 204
    assert bearer(plaintext).get("/api/v1/users/me").status_code == 401
    other = accounts.token_create(user=org.colleague, name="theirs")
    assert client.delete(f"/api/v1/users/me/tokens/{other.token.pk}").status_code == 404
    blank = client.post(
        "/api/v1/users/me/tokens", data={"name": " "}, content_type="application/json"
    )
    assert blank.status_code == 422
    assert blank.json()["errors"]["name"]


def test_pagination_limits(org: Organisation) -> None:
    client = api_client(org.admin)
    assert client.get("/api/v1/customers?limit=501").status_code == 422
    body = client.get("/api/v1/customers?limit=0").json()
    assert "detail" in body or "items" in body


class Payload(Schema):
    amount: int


def error_api() -> TestClient:
    api = NinjaAPI(urls_namespace="error-test")
    install_error_handlers(api)

    @api.post("/echo")
    def echo(request: object, payload: Payload) -> dict[str, int]:
        return {"amount": payload.amount}

    @api.get("/conflict")
    def conflict(request: object) -> None:
        raise Conflict(extra={"current_version": 3})

    @api.get("/invalid")
    def invalid(request: object) -> None:
        raise InvalidInput("Bad phone", errors={"mobile": ["Bad phone"]})

    @api.get("/boom")
    def boom(request: object) -> None:
        raise RuntimeError("secret internals")

    return TestClient(api)


def test_error_shapes() -> None:
    client = error_api()
    malformed = client.post("/echo", data=b"{not json", content_type="application/json")
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_json"

    invalid_body = client.post("/echo", json={"amount": "lots"})
    assert invalid_body.status_code == 422
    assert invalid_body.json()["errors"].keys() == {"amount"}

    conflict = client.get("/conflict")
    assert conflict.status_code == 409
    assert conflict.json() == {
        "detail": "该记录已被他人修改，请刷新后重试。",  # KEHU_LANGUAGE defaults to zh-hans
        "code": "conflict",
        "current_version": 3,
    }
    invalid = client.get("/invalid")
    assert invalid.status_code == 422
    assert invalid.json()["errors"] == {"mobile": ["Bad phone"]}

    crashed = client.get("/boom")
    assert crashed.status_code == 500
    assert crashed.json()["code"] == "server_error"
    assert "secret internals" not in crashed.content.decode()


def test_every_response_carries_a_request_id(client: Client) -> None:
    response = client.get("/healthz")
    assert response.json()["status"] == "ok"
    assert response["X-Request-ID"].startswith("req-")
    echoed = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234")
    assert echoed["X-Request-ID"] == "lb-1234"
