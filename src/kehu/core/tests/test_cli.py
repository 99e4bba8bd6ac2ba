"""The `kehu` command: user add, demo, serve."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from kehu.accounts.models import Department, User
from kehu.cli import main
from kehu.core.testing.subprocess_cli import run_kehu
from kehu.customers.models import Customer

pytestmark = pytest.mark.django_db


def test_user_add_with_department_and_token(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["user", "add", "xiaoming", "--role", "sales", "--department", "华东区/上海组", "--token"]
    )
    assert code == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    user = User.objects.get(username="xiaoming")
    assert user.department is not None
    assert user.department.name == "上海组"
    assert Department.objects.get(name="华东区").children.get() == user.department
    me = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/users/me")
    assert me.json()["username"] == "xiaoming"


def test_user_add_reports_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "add", "bad", "--role", "boss"]) == 2
    assert "role" in capsys.readouterr().err
    assert not User.objects.filter(username="bad").exists()


@pytest.mark.entry_rules  # the demo meets the shipped required-field rules, as `make run` does
def test_demo_creates_users_of_every_role_and_customers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--customers", "40", "--seed", "7"]) == 0
    assert set(User.objects.values_list("role", flat=True)) == {
        "admin",
        "manager",
        "sales",
        "service",
        "marketing",
    }
    assert Customer.objects.count() == 40
    assert Customer.objects.filter(contacts__isnull=False).distinct().count() == 40
    assert main(["demo", "--customers", "40", "--if-empty"]) == 0
    assert Customer.objects.count() == 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.django_db(transaction=True)
def test_serve_runs_gunicorn_with_static_files_and_a_worker(tmp_path: Path) -> None:
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KEHU_") and key != "DJANGO_SETTINGS_MODULE"
    }
    environment["KEHU_DATA_DIR"] = str(tmp_path)
    environment["HOME"] = str(tmp_path / "home")
    environment.pop("XDG_RUNTIME_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "kehu.cli", "serve", "--port", str(port), "--workers", "1"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    assert response.headers["Server"].startswith("gunicorn")
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("kehu serve did not come up")
                time.sleep(0.3)
        with urllib.request.urlopen(f"{base}/static/vendor/htmx/htmx.min.js") as script:
            assert script.status == 200
        with urllib.request.urlopen(f"{base}/accounts/login/") as login:
            assert "csrftoken" in login.headers.get("Set-Cookie", "")
        workers = subprocess.run(
            ["pgrep", "-f", "kehu.cli worker", "-s", str(os.getpgid(server.pid))],
            capture_output=True,
            text=True,
        )
        assert workers.stdout.strip(), "the embedded job worker is not running"
        # gunicorn's control socket lives in the data dir, not in the user's home.
        assert (tmp_path / "run" / f"gunicorn-{port}.ctl").is_socket()
        assert not (tmp_path / "home").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_a_data_dir_too_deep_for_a_socket_path_serves_without_the_control_socket(
    tmp_path: Path,
) -> None:
    from kehu.core.server import control_socket_options

    deep = tmp_path / ("d" * 120)
    assert control_socket_options(deep, 8000) == {"control_socket_disable": True}
    assert control_socket_options(tmp_path, 8000) == {
        "control_socket": str(tmp_path / "run" / "gunicorn-8000.ctl")
    }


def test_system_checks_of_the_database_models_are_clean() -> None:
    """Every `kehu` command runs Django's checks; a warning there is printed to every user."""
    from django.core.management import call_command

    call_command("check", databases=["default"], fail_level="WARNING")


def test_the_job_worker_keeps_the_configured_huey_logger() -> None:
    """`run_huey` configures the "huey" logger only when it has no handler (then at INFO,
    beside the root handler: each line twice)."""
    import logging

    huey = logging.getLogger("huey")
    assert huey.handlers
    assert huey.level == logging.WARNING
    assert not huey.propagate


def test_serve_workers_freeze_the_loaded_code() -> None:
    # A full garbage collection must not walk the ~160,000 objects of the loaded code: 86 ms
    # pauses in a worker before (bench/RESULTS.md, 2026-12-06 d).
    from kehu.core.server import freeze_loaded_code

    try:
        freeze_loaded_code(worker=None)
        assert "kehu.api" in sys.modules  # the URLconf and the routers, loaded before freezing
        assert gc.get_freeze_count() > 50_000
    finally:
        gc.unfreeze()


def test_user_add_on_a_fresh_data_dir_migrates_first(tmp_path: Path) -> None:
    added = run_kehu(
        tmp_path, "user", "add", "boss", "--role", "admin", "--password", "x-9!kQz7-Wp4m"
    )
    assert added.returncode == 0, added.stderr
    assert "Created user boss" in added.stdout
    assert "Traceback" not in added.stderr


def test_commands_on_an_unmigrated_database_say_what_to_run(tmp_path: Path) -> None:
    for args in (("worker",), ("export", "customers", "-o", str(tmp_path / "x.csv"))):
        answer = run_kehu(tmp_path, *args)
        assert answer.returncode == 2, answer.stderr
        assert "Traceback" not in answer.stderr
        assert answer.stderr.strip().splitlines() == [
            f"kehu {args[0]}: the database is not set up; run `kehu manage migrate` first"
        ]
