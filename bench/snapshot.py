"""Run the benchmark on a frozen copy of ``src/kehu``.

Several people edit the checkout while a run takes minutes; a run that imports half-edited
files fails or measures a mix of versions. ``reexec_on_snapshot`` copies ``src/kehu`` once it
imports cleanly (URLs and API included), then re-executes ``python -m bench`` with the copy
first on PYTHONPATH, so this process and every ``kehu`` subprocess (serve, user add, demo) run
the same code. The copy's location and the git commit it started from go into the results.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'kehu.settings'); "
    "django.setup(); import kehu.urls, kehu.api, kehu.cli; "
    "from django.urls import get_resolver; get_resolver().url_patterns"
)
MARKER = "BENCH_SNAPSHOT"


def _importable(src: Path) -> tuple[bool, str]:
    env = {**os.environ, "PYTHONPATH": str(src), "KEHU_DATA_DIR": str(src.parent / "var")}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=False
    )
    return done.returncode == 0, done.stderr[-300:]


def reexec_on_snapshot(wait_seconds: int = 600) -> None:
    if os.environ.get(MARKER):
        return
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    target = Path("/tmp/kehu-bench") / f"src-{stamp}"
    deadline = time.time() + wait_seconds
    while True:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(
            ROOT / "src" / "kehu",
            target / "src" / "kehu",
            ignore=shutil.ignore_patterns("__pycache__", "tests", "var", "*.pyc"),
        )
        ok, error = _importable(target / "src")
        if ok:
            break
        if time.time() > deadline:
            raise SystemExit(f"the checkout did not import cleanly for {wait_seconds}s: {error}")
        print(f"[bench] checkout does not import yet, retrying in 20 s: {error}", flush=True)
        time.sleep(20)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    env = {
        **os.environ,
        MARKER: f"{target} (working tree on top of {head})",
        "PYTHONPATH": os.pathsep.join([str(target / "src"), str(ROOT)]),
        "KEHU_NODE_MODULES": os.environ.get("KEHU_NODE_MODULES", str(ROOT / "node_modules")),
    }
    print(f"[bench] running on a snapshot of src/kehu in {target}", flush=True)
    os.execve(sys.executable, [sys.executable, "-m", "bench", *sys.argv[1:]], env)
