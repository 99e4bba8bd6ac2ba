"""Production hardening: `kehu manage check --deploy` passes under the settings documented in
docs/operations.md ("Running Kehu for a real company"), and those settings do what the page
says behind a TLS proxy (redirect, HSTS, secure cookies)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from kehu.core.testing.subprocess_cli import fresh_environment

PRODUCTION = {
    "KEHU_HTTPS": "true",
    "KEHU_ALLOWED_HOSTS": "crm.example.com",
    "KEHU_CSRF_TRUSTED_ORIGINS": "https://crm.example.com",
    "KEHU_BASE_URL": "https://crm.example.com",
}


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return fresh_environment(data_dir, KEHU_NODE_MODULES=str(settings.NODE_MODULES), **extra)


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kehu.cli",
            "manage",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_deploy_check_passes_under_the_documented_production_settings(tmp_path: Path) -> None:
    result = _check(_env(tmp_path, **PRODUCTION))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_deploy_check_names_what_a_plain_http_setup_lacks(tmp_path: Path) -> None:
    result = _check(_env(tmp_path, KEHU_ALLOWED_HOSTS="crm.example.com"))
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout, warning


PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client()
plain = client.get("/accounts/login/", HTTP_HOST="crm.example.com")
proxied = client.get(
    "/accounts/login/", HTTP_HOST="crm.example.com", HTTP_X_FORWARDED_PROTO="https"
)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "proxied": proxied.status_code,
    "hsts": proxied.get("Strict-Transport-Security", ""),
    "secure_cookie": bool(proxied.cookies["csrftoken"]["secure"]),
}))
"""


def test_behind_the_tls_proxy_http_redirects_and_https_gets_hsts_and_secure_cookies(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path, **PRODUCTION, DJANGO_SETTINGS_MODULE="kehu.settings")
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://crm.example.com/accounts/login/"]
    assert seen["proxied"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["secure_cookie"] is True
