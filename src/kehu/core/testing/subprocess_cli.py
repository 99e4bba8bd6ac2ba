"""Running the ``kehu`` command in a child process on a data dir of its own, as a user would:
without the test process's ``KEHU_*`` settings or its test-only variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Set by the test process, never by a user: the settings module and the browser tests'
# DJANGO_ALLOW_ASYNC_UNSAFE (Playwright's loop), which the deploy check refuses (async.E001).
TEST_ONLY = {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def fresh_environment(data_dir: Path, **extra: str) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KEHU_") and key not in TEST_ONLY
    }
    environment["KEHU_DATA_DIR"] = str(data_dir)
    environment.update(extra)
    return environment


def run_kehu(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kehu.cli", *args],
        env=env if env is not None else fresh_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
