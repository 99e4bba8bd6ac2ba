"""Two-factor sign-in: set-up with a confirming code, the sign-in's second step, recovery
codes that work once, reused codes refused, enforcement per role, API tokens unaffected."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import time_machine
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from kehu.accounts import conf, security, services
from kehu.accounts.models import RecoveryCode, Role, User
from kehu.cli import main
from kehu.core import config
from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.models import AuditEntry

pytestmark = pytest.mark.django_db
PASSWORD = "Sales-Rep-2024!"
CODE_PATTERN = re.compile(r'class="col recovery-code">([a-z0-9-]+)<')


def code_of(device: TOTPDevice | str, steps_ahead: int = 0) -> str:
    """What the authenticator app shows now (or ``steps_ahead`` steps of 30 s later) for a
    device or a hex key."""
    key = device.bin_key if isinstance(device, TOTPDevice) else bytes.fromhex(device)
    totp = TOTP(key)
    totp.time = time.time() + steps_ahead * 30
    return f"{totp.token():06d}"


def actions(user: User) -> list[str]:
    """The user's two-factor and password entries (creating and signing in have their own)."""
    return list(
        AuditEntry.objects.filter(
            target_type="accounts.user", target_id=str(user.pk), action__startswith="security."
        )
        .order_by("seq")
        .values_list("action", flat=True)
    )


@pytest.fixture
def rep(db: None) -> User:
    return services.user_create(username="lilei", role=Role.SALES, password=PASSWORD)


@pytest.fixture
def no_backoff(settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code may be followed by a right one at once


def enable(user: User) -> tuple[TOTPDevice, list[str]]:
    key = security.two_factor_new_key()
    codes = security.two_factor_confirm(user=user, key=key, code=code_of(key))
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return device, codes


def password_step(client: Client, username: str = "lilei", next_url: str = "") -> Any:
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def enforce(roles: list[str]) -> None:
    config.put(conf.TWO_FACTOR_ENFORCED.key, True)
    config.put(conf.TWO_FACTOR_ROLES.key, roles)
    config.clear_cache()


def test_set_up_on_the_profile_shows_a_qr_code_and_ten_recovery_codes_once(
    rep: User, no_backoff: None
) -> None:
    client = Client()
    client.force_login(rep)
    profile = client.get("/accounts/profile/").content.decode()
    assert 'id="two-factor-setup"' in profile
    page = client.get("/accounts/profile/two-factor/")
    html = page.content.decode()
    assert "<svg" in html, "the QR code is inline SVG"
    assert "<path" in html
    assert not TOTPDevice.objects.exists(), "nothing is stored before a code confirms the key"
    key = client.session["kehu_2fa_setup_key"]
    assert security.secret_of(key) in html
    again = client.get("/accounts/profile/two-factor/").content.decode()
    assert security.secret_of(key) in again, "a reload shows the same key"
    wrong = client.post("/accounts/profile/two-factor/", {"code": "000000"})
    assert wrong.status_code == 200
    assert 'id="recovery-codes"' not in wrong.content.decode()
    assert not security.two_factor_enabled(rep)

    done = client.post("/accounts/profile/two-factor/", {"code": code_of(key)})
    codes = CODE_PATTERN.findall(done.content.decode())
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert security.two_factor_enabled(rep)
    stored = list(RecoveryCode.objects.filter(user=rep).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not set(codes) & set(stored), "only hashes are stored"
    assert actions(rep) == ["security.2fa_enabled"]
    entry = AuditEntry.objects.get(action="security.2fa_enabled")
    assert entry.actor_id == rep.pk
    assert entry.details == {}
    # shown once: the set-up page now leads back to the profile, which shows no codes
    assert client.get("/accounts/profile/two-factor/")["Location"] == "/accounts/profile/"
    profile = client.get("/accounts/profile/").content.decode()
    assert not any(code in profile for code in codes)
    assert "10" in profile


def test_sign_in_asks_for_the_code_after_the_password(rep: User, no_backoff: None) -> None:
    device, _codes = enable(rep)
    client = Client()
    answer = password_step(client, next_url="/customers/")
    assert answer["Location"] == "/accounts/login/verify/"
    assert client.get("/")["Location"].startswith("/accounts/login/"), "not signed in yet"
    wrong = client.post("/accounts/login/verify/", {"code": "123456"})
    assert wrong.status_code == 200
    assert 'id="verify-form"' in wrong.content.decode()
    assert "security.2fa_failed" in actions(rep)
    right = client.post("/accounts/login/verify/", {"code": code_of(device, 1)})
    assert right.status_code == 302
    assert right["Location"] == "/customers/"
    assert client.get("/").status_code == 200
    assert AuditEntry.objects.filter(action="security.2fa_failed", actor_id=rep.pk).count() == 1


def test_a_code_is_refused_when_used_again_within_its_window(rep: User) -> None:
    device, _codes = enable(rep)
    code = code_of(device, 1)
    first = Client()
    password_step(first)
    assert first.post("/accounts/login/verify/", {"code": code}).status_code == 302
    second = Client()
    password_step(second)
    again = second.post("/accounts/login/verify/", {"code": code})
    assert again.status_code == 200, "the same code a second time is refused"
    assert second.get("/").status_code == 302


def test_wrong_codes_back_off(rep: User) -> None:
    device, _codes = enable(rep)
    client = Client()
    password_step(client)
    with time_machine.travel(time.time() + 60, tick=False):
        for _attempt in range(3):
            client.post("/accounts/login/verify/", {"code": "000000"})
        refused = client.post("/accounts/login/verify/", {"code": code_of(device)})
        assert refused.status_code == 200, "inside the back-off even the right code waits"
        assert security.throttled_seconds(rep) > 0
    with time_machine.travel(time.time() + 120, tick=False):
        assert client.post("/accounts/login/verify/", {"code": code_of(device)}).status_code == 302


def test_a_recovery_code_signs_in_once(rep: User, no_backoff: None) -> None:
    _device, codes = enable(rep)
    client = Client()
    password_step(client)
    signed_in = client.post("/accounts/login/verify/", {"code": codes[3].upper()})
    assert signed_in["Location"] == "/", "without a next, the dashboard"
    client.post("/accounts/logout/")
    password_step(client)
    again = client.post("/accounts/login/verify/", {"code": codes[3]})
    assert again.status_code == 200
    assert client.get("/").status_code == 302
    used = AuditEntry.objects.get(action="security.recovery_code_used")
    assert used.actor_id == rep.pk
    assert used.details == {"left": 9}
    assert security.recovery_codes_left(rep) == 9
    assert client.post("/accounts/login/verify/", {"code": codes[4]}).status_code == 302


def test_the_waiting_sign_in_expires(rep: User) -> None:
    device, _codes = enable(rep)
    client = Client()
    password_step(client)
    with time_machine.travel(time.time() + 600, tick=False):
        late = client.post("/accounts/login/verify/", {"code": code_of(device)})
    assert late["Location"] == "/accounts/login/"
    assert client.get("/accounts/login/verify/")["Location"] == "/accounts/login/"


def test_new_recovery_codes_replace_the_old(rep: User, no_backoff: None) -> None:
    device, old = enable(rep)
    client = Client()
    client.force_login(rep)
    refused = client.post("/accounts/profile/two-factor/recovery-codes/", {"code": "999999"})
    assert refused["Location"] == "/accounts/profile/"
    page = client.post("/accounts/profile/two-factor/recovery-codes/", {"code": code_of(device, 1)})
    new = CODE_PATTERN.findall(page.content.decode())
    assert len(new) == 10
    assert not set(new) & set(old)
    assert not security.verify_second_factor(user=rep, code=old[0])
    assert security.verify_second_factor(user=rep, code=new[0])
    assert "security.recovery_codes_regenerated" in actions(rep)


def test_turning_it_off_needs_a_code_and_is_audited(rep: User, no_backoff: None) -> None:
    _device, codes = enable(rep)
    client = Client()
    client.force_login(rep)
    client.post("/accounts/profile/two-factor/off/", {"code": "111111"})
    assert security.two_factor_enabled(rep)
    client.post("/accounts/profile/two-factor/off/", {"code": codes[0]})
    assert not security.two_factor_enabled(rep)
    assert not RecoveryCode.objects.filter(user=rep).exists()
    disabled = AuditEntry.objects.get(action="security.2fa_disabled")
    assert disabled.actor_id == rep.pk
    assert disabled.details == {"by_admin": False}
    assert password_step(Client())["Location"] == "/", "the password alone signs in again"


def test_an_admin_resets_a_lost_second_factor(org: Any) -> None:
    enable(org.rep)
    with pytest.raises(Forbidden):
        security.two_factor_reset(actor=org.colleague, user=org.rep)
    security.two_factor_reset(actor=org.admin, user=org.rep)
    assert not security.two_factor_enabled(org.rep)
    entry = AuditEntry.objects.get(action="security.2fa_disabled")
    assert entry.actor_id == org.admin.pk
    assert entry.details == {"by_admin": True}


def test_the_operator_resets_a_lost_second_factor_from_the_command_line(
    org: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    enable(org.admin)
    assert main(["user", "reset-2fa", "admin"]) == 0
    assert not security.two_factor_enabled(org.admin)
    entry = AuditEntry.objects.get(action="security.2fa_disabled")
    assert entry.actor_id is None
    assert entry.actor_name == "cli"
    assert main(["user", "reset-2fa", "nobody"]) == 2
    assert "no user nobody" in capsys.readouterr().err


def test_enforced_roles_must_set_it_up_before_anything_else(org: Any, no_backoff: None) -> None:
    enforce(["admin", "manager"])
    for user in (org.admin, org.east_manager, org.rep):
        user.set_password(PASSWORD)
        user.save()
    admin = Client()
    assert password_step(admin, "admin")["Location"] == "/"
    for path in ("/", "/customers/", "/accounts/profile/"):
        answer = admin.get(path)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/accounts/profile/two-factor/?next=")
    api = admin.get("/api/v1/users/me")
    assert api.status_code == 403
    assert api.json()["code"] == "2fa_required"
    page = admin.get("/accounts/profile/two-factor/")
    assert 'id="two-factor-required"' in page.content.decode()
    key = admin.session["kehu_2fa_setup_key"]
    admin.post("/accounts/profile/two-factor/", {"code": code_of(key)})
    device = TOTPDevice.objects.get(user=org.admin)
    assert admin.get("/").status_code == 200
    with pytest.raises(Forbidden):
        security.two_factor_disable(user=org.admin, code=code_of(device, 1))
    assert admin.post("/accounts/profile/two-factor/off/", {"code": "x"}).status_code == 403
    # the next sign-in asks for the code
    admin.post("/accounts/logout/")
    assert password_step(admin, "admin")["Location"] == "/accounts/login/verify/"
    # a role not listed is not held
    rep = Client()
    password_step(rep, org.rep.username)
    assert rep.get("/").status_code == 200
    # off again: nobody is held
    config.put(conf.TWO_FACTOR_ENFORCED.key, False)
    config.clear_cache()
    manager = Client()
    password_step(manager, org.east_manager.username)
    assert manager.get("/").status_code == 200


def test_api_tokens_are_unaffected(org: Any) -> None:
    enforce(["admin", "sales"])
    enable(org.admin)
    issued = services.token_create(user=org.rep, name="erp")  # rep has no second factor
    for token in (issued.plaintext, services.token_create(user=org.admin, name="x").plaintext):
        answer = Client().get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert answer.status_code == 200


def test_confirm_needs_a_good_key_and_code_and_the_code_is_spent(rep: User) -> None:
    with pytest.raises(InvalidInput):
        security.two_factor_confirm(user=rep, key="not hex", code="123456")
    key = security.two_factor_new_key()
    for bad in ("", "12345", "abcdef", "1234567", code_of(key, 5)):
        with pytest.raises(InvalidInput) as caught:
            security.two_factor_confirm(user=rep, key=key, code=bad)
        assert list(caught.value.errors) == ["code"]
    assert not TOTPDevice.objects.exists()
    code = code_of(key)
    security.two_factor_confirm(user=rep, key=key, code=code)
    assert not security.verify_second_factor(user=rep, code=code), "the confirming code is spent"
    with pytest.raises(InvalidInput):
        security.two_factor_confirm(user=rep, key=security.two_factor_new_key(), code=code)
