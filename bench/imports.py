"""Import and export speed: ``python -m bench import --rows 100000 --format csv --db sqlite``.

Each run imports a generated file (``bench/importdata.py``: Chinese companies with a contact,
~1 % duplicates, a few invalid rows) with ``kehu import customers`` into a fresh database — a
copy of a migrated template, so every run starts from the same empty state — and measures the
command as a whole: wall clock, CPU time (user + system of the ``kehu`` process and its
reading child, from ``wait4``; on PostgreSQL the server's own CPU is not included), peak RSS of
the largest process and peak PSS of the import's processes together. The job's own
``started_at`` → ``finished_at`` (reading, cleaning, dedup and writing, without process
start-up and the verification report) is reported as *engine seconds*. ``--export`` then times
``kehu export customers`` of everything imported (the bounded-memory check).

Results go to ``bench/results/import-*.json`` and print as Markdown (medians over ``--runs``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import importdata
from bench.memory import TreeMemorySampler

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
KEHU = str(Path(sys.executable).with_name("kehu"))
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
ADMIN = "bench.admin"
PASSWORD = "Bench-Kehu-2024!"


def log(message: str) -> None:
    print(f"[bench import {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- databases -------------------------------------------------------------------------------
class Database:
    """A migrated template with an administrator, and fresh copies of it for each run."""

    def __init__(self, engine: str, root: Path, name: str) -> None:
        self.engine = engine
        self.root = root
        self.name = name
        self.template = root / "template"

    def env(self, run: str) -> dict[str, str]:
        env = {
            **os.environ,
            "KEHU_DATA_DIR": str(self.root / run),
            "KEHU_DEBUG": "0",
            "KEHU_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "kehu.settings",
        }
        for key in ("KEHU_REDIS_URL", "KEHU_DATABASE_URL", "KEHU_TESTING"):
            env.pop(key, None)
        if self.engine == "postgresql":
            env["KEHU_DATABASE_URL"] = f"{PG_SERVER}/{self.name}_{run}"
        return env

    def _pg(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def prepare_template(self) -> None:
        marker = self.template / "ready"
        if marker.exists():
            return
        log(f"migrating the {self.engine} template")
        shutil.rmtree(self.template, ignore_errors=True)
        self.template.mkdir(parents=True)
        if self.engine == "postgresql":
            self._pg(f'DROP DATABASE IF EXISTS "{self.name}_template" WITH (FORCE)')
            self._pg(f'CREATE DATABASE "{self.name}_template"')
        env = self.env("template")
        subprocess.run([KEHU, "manage", "migrate", "--noinput", "-v", "0"], env=env, check=True)
        add = [KEHU, "user", "add", ADMIN, "--role", "admin", "--department", "总部"]
        subprocess.run([*add, "--password", PASSWORD], env=env, check=True, capture_output=True)
        marker.write_text("ok")

    def fresh(self, run: str) -> dict[str, str]:
        """A copy of the template named ``run``; answers its environment."""
        target = self.root / run
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.template, target)
        if self.engine == "postgresql":
            self._pg(f'DROP DATABASE IF EXISTS "{self.name}_{run}" WITH (FORCE)')
            self._pg(f'CREATE DATABASE "{self.name}_{run}" TEMPLATE "{self.name}_template"')
        return self.env(run)

    def drop(self, run: str) -> None:
        shutil.rmtree(self.root / run, ignore_errors=True)
        if self.engine == "postgresql":
            self._pg(f'DROP DATABASE IF EXISTS "{self.name}_{run}" WITH (FORCE)')

    def last_job(self, run: str) -> dict[str, Any]:
        sql = (
            "SELECT started_at, finished_at, status, counts FROM transfer_importjob "
            "ORDER BY id DESC LIMIT 1"
        )
        if self.engine == "postgresql":
            import psycopg

            with psycopg.connect(f"{PG_SERVER}/{self.name}_{run}") as conn:
                row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
        else:
            with sqlite3.connect(self.root / run / "kehu.sqlite3") as conn:
                row = conn.execute(sql).fetchone()
        if row is None:
            return {}
        started, finished, status, counts = row
        parse = datetime.fromisoformat
        if isinstance(started, str):
            started, finished = parse(started), parse(finished) if finished else None
        if isinstance(counts, str):
            counts = json.loads(counts)
        seconds = (finished - started).total_seconds() if finished else None
        return {"status": status, "counts": counts, "engine_seconds": seconds}


# --- measuring a command ---------------------------------------------------------------------
def measure(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``command``: wall clock, CPU (user + system, from ``wait4``: the process and the
    children it reaped), peak RSS of the largest process and peak PSS of all of them together
    (an import reads its file in a forked child, which shares most pages with its parent); its
    output goes to a file in the run's data directory."""
    logs = Path(env["KEHU_DATA_DIR"]) / "command.log"
    logs.parent.mkdir(parents=True, exist_ok=True)
    with logs.open("w") as handle:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
        sampler = TreeMemorySampler(process.pid, proportional=True)
        sampler.start()
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
    output = logs.read_text(errors="replace")
    return {
        "returncode": process.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_pss_mb": round(sampler.peak_pss_total_kb / 1024, 1),
        "processes": sampler.processes,
        "output": re.sub(r"(checked|imported) \d+/\d+ rows \(\d+%\)", "", output)[-600:],
    }


# --- scenarios -------------------------------------------------------------------------------
def import_file(options: argparse.Namespace) -> Path:
    path = Path(options.data_root) / "files" / f"customers-{options.rows}.{options.format}"
    if not path.exists():
        log(f"generating {options.rows:,} rows of {options.format.upper()} in {path}")
        importdata.write(path, options.rows, fmt=options.format)
    return path


def run_import(
    db: Database, path: Path, run: str, *, dry_run: bool, rows: int, keep: bool = False
) -> dict[str, Any]:
    env = db.fresh(run)
    # the import limits' defaults (200,000 rows, 20 MB) would refuse the 1,000,000-row file
    env["KEHU_IMPORT_MAX_ROWS"] = str(max(rows, 200_000))
    env["KEHU_IMPORT_MAX_MB"] = str(max(20, path.stat().st_size // 2**20 + 1))
    command = [KEHU, "import", "customers", str(path), "--user", ADMIN]
    if dry_run:
        command.append("--dry-run")
    result = measure(command, env)
    result.update(db.last_job(run))
    result["rows"] = rows
    result["rows_per_s_wall"] = round(rows / result["wall_s"])
    result["rows_per_s_cpu"] = round(rows / result["cpu_s"]) if result["cpu_s"] else None
    if result.get("engine_seconds"):
        result["rows_per_s_engine"] = round(rows / result["engine_seconds"])
    if not keep:
        db.drop(run)
    return result


def run_export(db: Database, run: str) -> dict[str, Any]:
    env = db.env(run)
    target = Path(env["KEHU_DATA_DIR"]) / "export.csv"
    command = [KEHU, "export", "customers", "--format", "csv", "-o", str(target), "--user", ADMIN]
    result = measure(command, env)
    if target.exists():
        with target.open("rb") as handle:
            result["rows"] = sum(1 for _ in handle) - 1
        result["bytes"] = target.stat().st_size
        result["rows_per_s_wall"] = round(result["rows"] / result["wall_s"])
    return result


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def summary(label: str, runs: list[dict[str, Any]]) -> str:
    counts = runs[-1].get("counts") or {}
    cells = [
        label,
        f"{runs[-1].get('rows', 0):,}",
        str(len(runs)),
        f"{median_of(runs, 'wall_s')}",
        f"{median_of(runs, 'cpu_s')}",
        f"{median_of(runs, 'engine_seconds')}",
        f"{median_of(runs, 'rows_per_s_wall') or 0:,.0f}",
        f"{median_of(runs, 'rows_per_s_cpu') or 0:,.0f}",
        f"{median_of(runs, 'peak_rss_mb')}",
        f"{median_of(runs, 'peak_pss_mb')}",
        ", ".join(f"{k} {v:,}" for k, v in counts.items() if v) or "—",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| run | rows | runs | wall s | CPU s | engine s | rows/s (wall) | rows/s (CPU) "
    "| peak RSS MB | peak PSS MB, all processes | counts |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def main(options: argparse.Namespace) -> int:
    root = Path(options.data_root) / options.db
    db = Database(options.db, root, options.pg_name)
    db.prepare_template()
    path = import_file(options)
    load = os.getloadavg()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "code": os.environ.get("BENCH_SNAPSHOT", "live tree"),
        "db": options.db,
        "format": options.format,
        "file": str(path),
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "nproc": os.cpu_count(),
        "load_average_start": load,
    }
    lines = [HEADER]
    label = f"{options.format.upper()} {options.db}"
    if options.dry_run:
        dry = []
        for index in range(options.runs):
            log(f"dry run {index + 1}/{options.runs}")
            dry.append(run_import(db, path, f"dry{index}", dry_run=True, rows=options.rows))
        results["dry_run"] = dry
        lines.append(summary(f"`kehu import --dry-run`, {label}", dry))
    if not options.skip_import:
        imports = []
        for index in range(options.runs):
            keep = options.export and index == options.runs - 1
            log(f"import {index + 1}/{options.runs}")
            imports.append(
                run_import(db, path, f"run{index}", dry_run=False, rows=options.rows, keep=keep)
            )
        results["import"] = imports
        lines.append(summary(f"`kehu import`, {label}", imports))
        if options.export:
            log("export of everything imported")
            exported = run_export(db, f"run{options.runs - 1}")
            results["export"] = exported
            lines.append(summary(f"`kehu export customers` (CSV), {options.db}", [exported]))
            db.drop(f"run{options.runs - 1}")
    results["load_average_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    out = RESULTS / f"import-{options.db}-{options.format}-{options.rows}-{stamp}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    print(
        f"\n{label}, {options.rows:,} rows, load average {load[0]:.1f} → "
        f"{results['load_average_end'][0]:.1f}; {out.name}\n"
    )
    print("\n".join(lines))
    failed = [r for r in results.get("import", []) + results.get("dry_run", []) if r["returncode"]]
    for run in failed:
        print(run["output"], file=sys.stderr)
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (medians are shown)")
    parser.add_argument("--dry-run", action="store_true", help="also time --dry-run")
    parser.add_argument("--skip-import", action="store_true", help="only the dry runs")
    parser.add_argument("--export", action="store_true", help="then export what was imported")
    parser.add_argument("--data-root", default="/tmp/kehu-bench-import")
    parser.add_argument("--pg-name", default="kehu_bench_import", help="PostgreSQL name prefix")
    parser.add_argument("--live-tree", action="store_true", help="no snapshot of src/")
