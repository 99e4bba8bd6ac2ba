"""Configuration from KEHU_* variables, and the embedded SQLite under concurrent writers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kehu.core.env import (
    ConfigurationError,
    email_settings,
    env_bool,
    env_list,
    persistent_secret_key,
)


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = persistent_secret_key(tmp_path / "data")
    assert len(first) > 40
    assert persistent_secret_key(tmp_path / "data") == first
    assert oct((tmp_path / "data" / "secret_key").stat().st_mode)[-3:] == "600"


def test_booleans_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEHU_X", "yes")
    assert env_bool("KEHU_X") is True
    monkeypatch.setenv("KEHU_X", "maybe")
    with pytest.raises(ConfigurationError, match="KEHU_X"):
        env_bool("KEHU_X")
    monkeypatch.setenv("KEHU_HOSTS", "crm.example.com, 10.0.0.5,")
    assert env_list("KEHU_HOSTS", []) == ["crm.example.com", "10.0.0.5"]


def test_email_urls() -> None:
    smtp = email_settings("smtp://kehu%40corp:p%40ss@mail.corp:2525")
    assert smtp["EMAIL_HOST"] == "mail.corp"
    assert smtp["EMAIL_PORT"] == 2525
    assert smtp["EMAIL_HOST_USER"] == "kehu@corp"
    assert smtp["EMAIL_HOST_PASSWORD"] == "p@ss"
    assert email_settings("submission://mail.corp")["EMAIL_USE_TLS"] is True
    assert email_settings("smtps://mail.corp")["EMAIL_PORT"] == 465
    assert "console" in str(email_settings("")["EMAIL_BACKEND"])
    with pytest.raises(ConfigurationError, match="KEHU_EMAIL_URL"):
        email_settings("http://mail.corp")


def run_kehu(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KEHU_") and key != "DJANGO_SETTINGS_MODULE"
    }
    environment.update({"KEHU_DATA_DIR": str(data_dir), **env})
    return subprocess.run(
        [sys.executable, "-m", "kehu.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


CONCURRENT_WRITERS = """
import threading
from django.db import connection
from kehu.accounts import services
from kehu.accounts.models import ApiToken, User

user = services.user_create(username="writer", role="sales")
errors = []

def write(n):
    try:
        for i in range(25):
            services.token_create(user=user, name=f"t{n}-{i}")
    except Exception as error:
        errors.append(repr(error))
    finally:
        connection.close()

threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    mode = cursor.fetchone()[0]
print(mode, ApiToken.objects.count(), errors)
"""


def test_embedded_sqlite_uses_wal_and_survives_concurrent_writers(tmp_path: Path) -> None:
    migrated = run_kehu(["manage", "migrate", "-v", "0"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    result = run_kehu(["manage", "shell", "--no-imports", "-c", CONCURRENT_WRITERS], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wal 200 []", result.stdout
    assert (tmp_path / "kehu.sqlite3").exists()
    assert (tmp_path / "secret_key").exists()


def test_invalid_settings_name_the_variable(tmp_path: Path) -> None:
    result = run_kehu(["manage", "check"], tmp_path, KEHU_LANGUAGE="fr")
    assert result.returncode != 0
    assert "KEHU_LANGUAGE" in result.stderr
