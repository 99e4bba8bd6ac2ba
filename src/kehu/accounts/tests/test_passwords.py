"""The password policy on every password set, the forced change of a password someone else
chose (`kehu user add` without --password, the administration), and their audit entries."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.password_validation import password_validators_help_texts
from django.test import Client
from django.utils import translation

from kehu.accounts import conf, security, services
from kehu.accounts.models import Role, User
from kehu.cli import main
from kehu.core import config
from kehu.core.errors import InvalidInput
from kehu.core.models import AuditEntry

pytestmark = pytest.mark.django_db
GOOD = "Qinghai-Lake-2031"


def problems(password: str, username: str = "wangwei") -> list[str]:
    user = User(username=username, display_name="王伟", email="wang.wei@example.cn")
    with translation.override("en"), pytest.raises(InvalidInput) as caught:
        security.check_password_policy(password, user)
    return caught.value.errors["password"]


def test_the_policy_refuses_short_letterless_common_and_name_like_passwords(db: None) -> None:
    assert problems("Ab3def") == ["The password must have at least 10 characters."]
    assert problems("abcdefghijkl") == ["The password must contain both letters and digits."]
    assert problems("password123") == [
        "This password is on the list of common or breached passwords."
    ]
    assert problems("wangwei-2031x") == ["The password must not contain the username."]
    assert problems("wang.wei@example.cn1") == [
        "The password is too similar to the username, name or e-mail."
    ]
    security.check_password_policy(GOOD, User(username="wangwei"))


def test_the_policy_follows_its_settings(db: None) -> None:
    config.put(conf.PASSWORD_MIN_LENGTH.key, 16)
    config.put(conf.PASSWORD_LETTERS_DIGITS.key, False)
    config.put(conf.PASSWORD_COMMON.key, False)
    config.put(conf.PASSWORD_USERNAME.key, False)
    config.clear_cache()
    assert problems("Qinghai-2031") == ["The password must have at least 16 characters."]
    security.check_password_policy("wangwei-wangwei-wangwei", User(username="wangwei"))
    with translation.override("en"):
        assert password_validators_help_texts() == ["At least 16 characters."]
    with pytest.raises(InvalidInput):
        config.put(conf.PASSWORD_MIN_LENGTH.key, 4)  # below the floor of 8


def test_help_text_names_every_rule(db: None) -> None:
    with translation.override("en"):
        assert password_validators_help_texts() == [
            "At least 10 characters. Letters and digits. Not a common or breached password. "
            "Not like your username, name or e-mail."
        ]


def test_user_create_applies_the_policy(db: None) -> None:
    with pytest.raises(InvalidInput) as caught:
        services.user_create(username="weak", role=Role.SALES, password="weak12")
    assert list(caught.value.errors) == ["password"]
    assert not User.objects.filter(username="weak").exists()


def test_profile_change_applies_the_policy_and_is_audited(db: None) -> None:
    user = services.user_create(username="lilei", role=Role.SALES, password=GOOD)
    client = Client()
    client.force_login(user)
    weak = client.post(
        "/accounts/password/",
        {"old_password": GOOD, "new_password1": "lilei12345", "new_password2": "lilei12345"},
    )
    assert weak.status_code == 200
    assert "lilei12345" not in weak.content.decode()
    changed = client.post(
        "/accounts/password/",
        {
            "old_password": GOOD,
            "new_password1": "Yellow-River-77",
            "new_password2": "Yellow-River-77",
        },
    )
    assert changed["Location"] == "/accounts/profile/"
    assert client.get("/").status_code == 200, "the session survives its own change"
    entry = AuditEntry.objects.get(action="security.password_changed")
    assert entry.actor_id == user.pk
    assert entry.target_id == str(user.pk)
    assert entry.details == {"own": True, "must_change": False}
    assert "Yellow" not in str(entry.details)


def test_a_generated_password_must_be_changed_at_first_sign_in(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["user", "add", "newbie", "--role", "sales", "--token"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Created user newbie")
    generated = out[1].split(": ", 1)[1]
    assert out[2].startswith("kehu_"), "the token stays on the last line"
    user = User.objects.get(username="newbie")
    assert user.must_change_password
    assert user.check_password(generated)
    security.check_password_policy(generated, user)

    client = Client()
    client.post("/accounts/login/", {"username": "newbie", "password": generated})
    for path in ("/", "/customers/", "/accounts/profile/two-factor/"):
        answer = client.get(path)
        assert answer.status_code == 302, (path, answer.status_code, answer.content[:3000])
        assert answer["Location"].startswith("/accounts/password/?next=")
    page = client.get("/accounts/password/")
    assert 'id="password-change-required"' in page.content.decode()
    api = client.get("/api/v1/users/me")
    assert api.status_code == 403
    assert api.json()["code"] == "password_change_required"
    token = out[2]
    tokened = Client().get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert tokened.status_code == 200, "API tokens are unaffected"
    changed = client.post(
        "/accounts/password/?next=/customers/",
        {
            "old_password": generated,
            "new_password1": "Pearl-River-2046",
            "new_password2": "Pearl-River-2046",
        },
    )
    assert changed["Location"] == "/customers/", "back to the page first asked for"
    user.refresh_from_db()
    assert not user.must_change_password
    assert client.get("/").status_code == 200


def test_user_add_with_a_password_keeps_it(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "add", "boss", "--role", "admin", "--password", GOOD]) == 0
    assert "Password" not in capsys.readouterr().out
    assert not User.objects.get(username="boss").must_change_password
    assert main(["user", "add", "weakling", "--role", "sales", "--password", "abc"]) == 2
    assert "password" in capsys.readouterr().err


def test_users_added_in_the_administration_change_the_password_first(org: Any) -> None:
    org.admin.is_superuser = True
    org.admin.save()
    client = Client()
    client.force_login(org.admin)
    weak = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "xiaozhang",
            "password1": "short1",
            "password2": "short1",
            "usable_password": "true",
        },
    )
    assert weak.status_code == 200
    assert not User.objects.filter(username="xiaozhang").exists()
    added = client.post(
        "/admin/accounts/user/add/",
        {"username": "xiaozhang", "password1": GOOD, "password2": GOOD, "usable_password": "true"},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    user = User.objects.get(username="xiaozhang")
    assert user.must_change_password

    User.objects.filter(pk=org.rep.pk).update(must_change_password=False)
    reset = client.post(
        f"/admin/accounts/user/{org.rep.pk}/password/",
        {
            "password1": "Huangshan-Pine-8",
            "password2": "Huangshan-Pine-8",
            "usable_password": "true",
        },
    )
    assert reset.status_code == 302
    org.rep.refresh_from_db()
    assert org.rep.must_change_password
    assert org.rep.check_password("Huangshan-Pine-8")
    entry = AuditEntry.objects.get(action="security.password_changed")
    assert entry.actor_id == org.admin.pk
    assert entry.target_id == str(org.rep.pk)
    assert entry.details == {"own": False, "must_change": True}
