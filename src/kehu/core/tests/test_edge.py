"""Bad requests at the edge: credentials, bodies, content types, numbers. Each is a 4xx with the
API's JSON error body (or a 4xx page in the UI) and writes nothing."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.test.client import BOUNDARY, encode_multipart

from kehu.accounts.models import ApiToken
from kehu.api import api
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Customer
from kehu.customers.tests.factories import make_customer
from kehu.leads import services as lead_services
from kehu.leads.models import AssignmentRule, Lead
from kehu.pools.models import Pool
from kehu.pools.tests.factories import make_pool

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


# --- bodies: too large (413), unparseable multipart (400), wrong media type (415) ------------

BIG_JSON = b'{"name": "' + b"x" * (25 * 1024 * 1024) + b'"}'


def test_a_25_mb_json_body_is_413_json_and_writes_nothing(org: Organisation) -> None:
    response = api_client(org.admin).post(
        "/api/v1/pools", data=BIG_JSON, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Pool.objects.exists()


def test_a_25_mb_form_is_the_413_page_and_writes_nothing(org: Organisation) -> None:
    browser = Client()
    browser.force_login(org.rep)
    body = b"name=" + b"x" * (25 * 1024 * 1024)
    response = browser.post(
        "/customers/new/", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert not Customer.objects.exists()


def test_too_many_form_fields_are_413(org: Organisation) -> None:
    browser = Client()
    browser.force_login(org.rep)
    body = "&".join(f"f{i}=1" for i in range(1_100))
    response = browser.post(
        "/customers/new/", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"  # a new string: the client sends it as is


def _operations(kind: str) -> list[tuple[str, str]]:
    """(method, path) of every API operation whose request body is of ``kind``."""
    found = []
    for path, operations in api.get_openapi_schema()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if kind in content:
                found.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return found


def test_every_json_body_operation_answers_415_to_multipart(org: Organisation) -> None:
    client = api_client(org.admin)
    operations = _operations("application/json")
    assert len(operations) > 40
    answers = {
        f"{method} {path}": getattr(client, method)(
            path, data=encode_multipart(BOUNDARY, {"name": "x"}), content_type=MULTIPART
        ).status_code
        for method, path in operations
    }
    assert {op: status for op, status in answers.items() if status != 415} == {}
    assert not Pool.objects.exists()


def test_every_form_operation_answers_415_to_json(org: Organisation) -> None:
    client = api_client(org.admin)
    operations = _operations("multipart/form-data")
    assert ("post", "/api/v1/followups/with-attachments") in operations
    for method, path in operations:
        response = getattr(client, method)(path, data={"a": 1}, content_type="application/json")
        assert response.status_code == 415, path
        assert response.json()["code"] == "unsupported_media_type"


def test_a_session_write_of_the_wrong_type_is_415_before_the_csrf_check(
    org: Organisation,
) -> None:
    # The CSRF check reads the form: a multipart body then left nothing for the JSON parser.
    browser = Client()
    browser.force_login(org.admin)
    response = browser.post("/api/v1/pools", data={"name": "x"})
    assert response.status_code == 415
    assert not Pool.objects.exists()


NO_BOUNDARY = {"data": b"--x\r\n\r\n", "content_type": "multipart/form-data"}


def test_multipart_without_boundary_on_the_api_is_400(org: Organisation) -> None:
    client = api_client(org.admin)
    for path in ("/api/v1/followups/with-attachments", "/api/v1/opportunities/1/attachments"):
        response = client.post(path, **NO_BOUNDARY)
        assert response.status_code == 400, path
        assert response.json()["code"] == "malformed_multipart"


def test_multipart_without_boundary_in_the_ui_is_the_400_page(org: Organisation) -> None:
    customer = make_customer(org.rep)
    browser = Client()
    browser.force_login(org.rep)
    response = browser.post(f"/customers/{customer.pk}/attachments/", **NO_BOUNDARY)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_multipart_without_boundary_on_the_public_web_form_is_400(org: Organisation) -> None:
    form = lead_services.web_form_create(
        actor=org.marketing, data={"name": "官网留言", "source": "website"}
    )
    response = Client().post(f"/leads/w/{form.key}/", **NO_BOUNDARY)
    assert response.status_code == 400
    assert not Lead.objects.exists()


# --- whole numbers: bounded, answered 422 or 404 ----------------------------------------------

HUGE = "9999999999999999999999999999999999999999"


def test_every_api_list_answers_a_huge_offset_with_422(org: Organisation) -> None:
    client = api_client(org.admin)
    lists = [
        re.sub(r"\{[^}]+\}", "1", path)
        for path, operations in api.get_openapi_schema()["paths"].items()
        if any(p["name"] == "offset" for p in operations.get("get", {}).get("parameters", []))
    ]
    assert len(lists) >= 13
    answers = {path: client.get(path, {"offset": HUGE}) for path in lists}
    assert {path: r.status_code for path, r in answers.items() if r.status_code != 422} == {}
    assert all(r.json()["code"] == "invalid" for r in answers.values())


def test_a_huge_id_in_a_list_filter_is_422(org: Organisation) -> None:
    response = api_client(org.admin).get("/api/v1/customers", {"tags": HUGE})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "path",
    ["/customers/", "/leads/", "/pipeline/list/", "/pipeline/review/", "/pools/reveals/"],
)
def test_a_page_that_cannot_exist_is_404(org: Organisation, path: str) -> None:
    browser = Client()
    browser.force_login(org.admin)
    assert browser.get(path, {"page": "99999999999999999999"}).status_code == 404
    assert browser.get(path, {"page": "x"}).status_code == 200  # not a number: the first page


def test_every_paged_page_survives_a_huge_page_number(org: Organisation) -> None:
    pool = make_pool(org.east)
    browser = Client()
    browser.force_login(org.admin)
    for path in (f"/pools/{pool.pk}/", "/notifications/", "/notifications/deliveries/"):
        assert browser.get(path, {"page": HUGE}).status_code in (200, 404), path


def test_non_numeric_ids_in_ui_posts_are_404(org: Organisation) -> None:
    browser = Client()
    browser.force_login(org.admin)
    assert browser.post("/notifications/channels/", {"delete": "abc"}).status_code == 404
    assert browser.post("/notifications/channels/", {"delete": HUGE}).status_code == 404
    assert browser.post("/notifications/deliveries/", {"retry": "abc"}).status_code == 404
    customer = make_customer(org.admin)
    share = f"/customers/{customer.pk}/share/"
    assert browser.post(share, {"revoke": "abc"}).status_code == 404


def test_a_bulk_selection_of_non_numbers_changes_nothing(org: Organisation) -> None:
    customer = make_customer(org.rep)
    browser = Client()
    browser.force_login(org.admin)
    response = browser.post(
        "/customers/bulk/",
        {"selected": ["abc", HUGE, "٣"], "action": "tag", "tags": "重点"},
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.version == 1


def test_a_lead_edit_with_a_non_numeric_version_is_a_form_error(
    org: Organisation,
) -> None:
    lead = lead_services.lead_capture(
        actor=org.admin,
        data={
            "company_name": "测试科技有限公司",
            "contact_name": "王五",
            "mobile": "13800130001",
            "source": "website",
        },
    )
    browser = Client()
    browser.force_login(org.admin)
    response = browser.post(
        f"/leads/{lead.pk}/edit/",
        {
            "company_name": "改名有限公司",
            "contact_name": "王五",
            "mobile": "13800130001",
            "source": "website",
            "urgency": "medium",
            "version": "abc",
        },
    )
    assert response.status_code in (200, 409, 422)
    lead.refresh_from_db()
    assert lead.company_name == "测试科技有限公司"


def test_huge_ids_in_multiple_choices_are_form_errors(org: Organisation) -> None:
    browser = Client()
    browser.force_login(org.admin)
    rule = browser.post("/leads/rules/new/", {"name": "规则", "reps": [HUGE]})
    assert rule.status_code in (200, 422)
    assert not AssignmentRule.objects.filter(name="规则").exists()
    pool = browser.post("/pools/new/", {"name": "公海", "departments": [HUGE, "x"]})
    assert pool.status_code in (200, 422)
    assert not Pool.objects.exists()


@pytest.mark.parametrize("value", ["²", "١٢", HUGE])
def test_digits_int_cannot_read_are_no_500(org: Organisation, value: str) -> None:
    # str.isdigit() is true for "²", which int() refuses: such checks answered a 500.
    browser = Client()
    browser.force_login(org.admin)
    assert browser.get("/followups/tasks/new/", {"customer": value}).status_code == 404
    assert browser.get("/pools/reveals/", {"user": value}).status_code == 200
    assert browser.get("/pipeline/list/", {"customer": value}).status_code in (200, 422)


def test_without_credentials_a_body_of_the_wrong_type_is_still_401(db: None) -> None:
    response = Client(enforce_csrf_checks=True).post("/api/v1/pools", data={"name": "x"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
