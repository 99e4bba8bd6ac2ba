"""The public web-to-lead endpoint: secret, honeypot, rate limit, no login, no CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from kehu.core import config
from kehu.core.testing.factories import Organisation
from kehu.leads import services
from kehu.leads.models import Lead, WebForm

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def browser_client() -> Client:
    return Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.7")


def _post(client: Client, web_form: WebForm, **data: Any) -> Any:
    fields = {
        "secret": web_form.secret,
        "contact_name": "孙八",
        "company_name": "深圳某某电子有限公司",
        "mobile": "13600001111",
        "need": "想了解产品报价",
        **data,
    }
    return client.post(reverse("leads:public_form", args=[web_form.key]), fields)


def test_hosted_form_renders_without_login(browser_client: Client, web_form: WebForm) -> None:
    response = browser_client.get(reverse("leads:public_form", args=[web_form.key]))
    assert response.status_code == 200
    assert web_form.secret in response.content.decode()
    assert "frame-ancestors *" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response


def test_submission_creates_a_pooled_lead_with_its_source(
    browser_client: Client, web_form: WebForm
) -> None:
    response = _post(browser_client, web_form, 活动="春季展")
    assert response.status_code == 200
    assert "public-thanks" in response.content.decode()
    lead = Lead.objects.get()
    assert lead.web_form == web_form
    assert lead.source == "website"
    assert lead.source_detail == "官网-产品页"
    assert lead.mobile == "+8613600001111"
    assert lead.created_by is None
    assert lead.extra["活动"] == "春季展"
    assert lead.extra["submitted_from"] == "203.0.113.7"


def test_redirects_to_the_forms_thank_you_page(
    org: Organisation, browser_client: Client, web_form: WebForm
) -> None:
    services.web_form_update(
        actor=org.admin, form=web_form, data={"redirect_url": "https://example.com/thanks"}
    )
    response = _post(browser_client, web_form)
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/thanks"


@pytest.mark.parametrize("mobile", ["", "12345", "not a phone"])
def test_missing_or_invalid_phone_is_refused(
    browser_client: Client, web_form: WebForm, mobile: str
) -> None:
    response = _post(browser_client, web_form, mobile=mobile)
    assert response.status_code == 422
    assert not Lead.objects.exists()


def test_wrong_secret_is_refused(browser_client: Client, web_form: WebForm) -> None:
    response = _post(browser_client, web_form, secret="guess")
    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_inactive_form_is_refused(
    org: Organisation, browser_client: Client, web_form: WebForm
) -> None:
    services.web_form_update(actor=org.admin, form=web_form, data={"is_active": False})
    assert _post(browser_client, web_form).status_code == 403
    assert not Lead.objects.exists()


def test_honeypot_answers_like_success_but_stores_nothing(
    browser_client: Client, web_form: WebForm
) -> None:
    response = _post(browser_client, web_form, website="http://spam.example")
    assert response.status_code == 200
    assert not Lead.objects.exists()


def test_flood_from_one_address_is_rate_limited(browser_client: Client, web_form: WebForm) -> None:
    limit = config.get("leads.webform_rate_limit")
    for number in range(limit):
        assert _post(browser_client, web_form, mobile=f"1360000{number:04d}").status_code == 200
    response = _post(browser_client, web_form, mobile="13600009999")
    assert response.status_code == 429
    assert Lead.objects.count() == limit
    other = Client(REMOTE_ADDR="198.51.100.1")
    assert _post(other, web_form, mobile="13600008888").status_code == 200
    assert Lead.objects.count() == limit + 1


def test_rate_limit_is_per_form(
    org: Organisation, browser_client: Client, web_form: WebForm
) -> None:
    config.put("leads.webform_rate_limit", 1)
    second = services.web_form_create(
        actor=org.admin, data={"name": "展会", "source": "trade_show"}
    )
    assert _post(browser_client, web_form).status_code == 200
    assert _post(browser_client, web_form, mobile="13600002222").status_code == 429
    assert _post(browser_client, second, mobile="13600003333").status_code == 200


def test_api_submission_answers_json(web_form: WebForm) -> None:
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR="192.0.2.10")
    url = f"/api/v1/leads/web-forms/{web_form.key}/submissions"
    ok = client.post(
        url,
        {"secret": web_form.secret, "contact_name": "周九", "mobile": "13500001234"},
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content
    assert Lead.objects.filter(pk=ok.json()["lead_id"]).exists()
    bad = client.post(
        url, {"secret": web_form.secret, "contact_name": "周九"}, content_type="application/json"
    )
    assert bad.status_code == 422
    assert "mobile" in bad.json()["errors"]
    wrong = client.post(
        url,
        {"secret": "x", "contact_name": "周九", "mobile": "13500001234"},
        content_type="application/json",
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "bad_form_secret"
    assert Lead.objects.count() == 1


def test_json_flood_answers_429_json(web_form: WebForm) -> None:
    config.put("leads.webform_rate_limit", 2)
    client = Client(REMOTE_ADDR="192.0.2.11")
    url = reverse("leads:public_form", args=[web_form.key])
    codes = [
        client.post(
            url,
            {"secret": web_form.secret, "contact_name": "吴十", "mobile": f"1350000{n:04d}"},
            content_type="application/json",
        ).status_code
        for n in range(4)
    ]
    assert codes == [201, 201, 429, 429]
    assert Lead.objects.count() == 2


def test_web_form_management_and_embed_snippet(org: Organisation, web_form: WebForm) -> None:
    client = Client()
    client.force_login(org.marketing)
    page = client.get(reverse("leads:web_form", args=[web_form.pk]))
    assert page.status_code == 200
    assert web_form.secret in page.content.decode()
    assert 'name="website"' in page.context["snippet"]
    old = web_form.secret
    client.post(reverse("leads:web_form", args=[web_form.pk]), {"action": "rotate"})
    web_form.refresh_from_db()
    assert web_form.secret != old
    rep = Client()
    rep.force_login(org.rep)
    assert rep.get(reverse("leads:web_forms")).status_code == 403
    created = client.post(reverse("leads:web_forms"), {"name": "抖音", "source": "social_media"})
    assert created.status_code == 302
    assert WebForm.objects.filter(name="抖音").exists()
