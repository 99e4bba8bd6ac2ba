"""Sign-in, lockout, profile, API tokens in the UI, language, departments."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from kehu.accounts import services
from kehu.accounts.models import ApiToken, Department, Role, User
from kehu.core.errors import InvalidInput
from kehu.core.testing.factories import Organisation, make_user

pytestmark = pytest.mark.django_db
PASSWORD = "Sales-Rep-2024!"


@pytest.fixture
def rep(db: None) -> User:
    return services.user_create(username="lilei", role=Role.SALES, password=PASSWORD)


def test_sign_in_and_out(rep: User) -> None:
    client = Client()
    assert client.get("/").status_code == 302
    response = client.post("/accounts/login/", {"username": "lilei", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_wrong_password_shows_an_error_and_locks_out_after_five(rep: User) -> None:
    client = Client()
    for _attempt in range(4):
        response = client.post("/accounts/login/", {"username": "lilei", "password": "nope"})
        assert response.status_code == 200
        assert "用户名或密码错误" in response.content.decode()
    client.post("/accounts/login/", {"username": "lilei", "password": "nope"})
    locked = client.post("/accounts/login/", {"username": "lilei", "password": PASSWORD})
    assert locked.status_code == 429
    assert client.get("/").status_code == 302


def test_password_change(rep: User) -> None:
    client = Client()
    client.force_login(rep)
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "Another-Pass-99", "new_password2": "x"},
    )
    assert response.status_code == 200  # mismatch: form shown again with errors
    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "Another-Pass-99",
            "new_password2": "Another-Pass-99",
        },
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.check_password("Another-Pass-99")


def test_profile_creates_a_token_shown_once_and_revokes_it(rep: User) -> None:
    client = Client()
    client.force_login(rep)
    page = client.post("/accounts/profile/", {"action": "create_token", "name": "手机日历"})
    token = ApiToken.objects.get(user=rep)
    html = page.content.decode()
    plaintext = re.search(rf"kehu_{token.prefix}_[A-Za-z0-9_-]{{20,}}", html)
    assert plaintext is not None
    assert services.token_authenticate(plaintext.group()) == rep
    assert plaintext.group() not in client.get("/accounts/profile/").content.decode()

    other = services.token_create(user=make_user(), name="not yours")
    client.post(f"/accounts/profile/tokens/{other.token.pk}/revoke/")
    other.token.refresh_from_db()
    assert other.token.revoked_at is None

    client.post(f"/accounts/profile/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_profile_refuses_a_blank_token_name(rep: User) -> None:
    client = Client()
    client.force_login(rep)
    response = client.post("/accounts/profile/", {"action": "create_token", "name": ""})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()


def test_language_switch_is_saved_on_the_user(rep: User) -> None:
    client = Client()
    client.force_login(rep)
    client.post("/accounts/language/", {"language": "en", "next": "/customers/"})
    rep.refresh_from_db()
    assert rep.language == "en"
    assert "Dashboard" in client.get("/").content.decode()
    response = client.post("/accounts/language/", {"language": "zh-hans", "next": "//evil.com"})
    assert response["Location"] == "/"


def test_settings_page_is_for_admins(org: Organisation) -> None:
    client = Client()
    client.force_login(org.rep)
    assert client.get("/accounts/settings/").status_code == 403
    client.force_login(org.admin)
    page = client.get("/accounts/settings/").content.decode()
    assert "上海组" in page
    assert "east_manager" in page


def test_department_tree_paths_follow_moves(org: Organisation) -> None:
    assert org.shanghai.path == f"/{org.east.pk}/{org.shanghai.pk}/"
    org.east.parent = org.south
    org.east.save()
    org.shanghai.refresh_from_db()
    assert org.shanghai.path == f"/{org.south.pk}/{org.east.pk}/{org.shanghai.pk}/"
    assert set(org.south.subtree_ids()) == {
        org.south.pk,
        org.east.pk,
        org.shanghai.pk,
        org.hangzhou.pk,
    }
    org.south.refresh_from_db()
    org.south.parent = org.shanghai
    with pytest.raises(Exception, match=r"below itself|下级"):
        org.south.save()


def test_user_create_validates(db: None) -> None:
    with pytest.raises(InvalidInput) as unknown:
        services.user_create(username="x", role="boss")
    assert "role" in unknown.value.errors
    services.user_create(username="dup", role=Role.SALES)
    with pytest.raises(InvalidInput):
        services.user_create(username="dup", role=Role.SALES)
    with pytest.raises(InvalidInput) as weak:
        services.user_create(username="weak", role=Role.SALES, password="123")
    assert "password" in weak.value.errors
    assert not User.objects.filter(username="weak").exists()


def test_department_chain_is_created_once(db: None) -> None:
    first = services.department_get_or_create_path(["华东区", "上海组"])
    again = services.department_get_or_create_path(["华东区", "上海组"])
    assert first.pk == again.pk
    assert Department.objects.count() == 2


def test_supervisors_are_the_nearest_heads_and_managers(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    from kehu.accounts.selectors import department_supervisors

    with django_assert_max_num_queries(3):
        assert department_supervisors(org.shanghai.pk) == [org.east_manager]
    org.shanghai.head = org.colleague
    org.shanghai.save()
    assert department_supervisors(org.shanghai.pk) == [org.colleague]
    assert department_supervisors(org.shanghai.pk, exclude=org.colleague.pk) == [org.east_manager]
    assert department_supervisors(None) == []
