"""``python -m bench run --size S --db sqlite`` and ``python -m bench report``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="load, serve and measure one size on one database")
    run.add_argument("--size", choices=["S", "M", "L"], default="S")
    run.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    run.add_argument("--duration", type=int, default=10, help="seconds of wrk per row")
    run.add_argument("--workers", type=int, default=4, help="kehu serve --workers")
    run.add_argument("--port", type=int, default=8765)
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--data-root", default="/tmp/kehu-bench", help="SQLite data directories")
    run.add_argument(
        "--leads", type=int, default=10_000, help="leads in the assignment batch (0: skip)"
    )
    run.add_argument(
        "--transfer", type=int, default=2000, help="rows of the timed import (0: skip)"
    )
    run.add_argument(
        "--demo", type=int, default=None, help="customers for the timed `kehu demo` (0: skip)"
    )
    run.add_argument(
        "--tickets",
        type=int,
        default=None,
        help="tickets to load (default: the size's, about one per customer)",
    )
    run.add_argument(
        "--redis",
        default="",
        help="Redis URL for the server's cache and jobs, as in production (default: none)",
    )
    run.add_argument(
        "--only",
        default="",
        help="comma-separated scenario names (or name prefixes) to measure (default: all)",
    )
    run.add_argument(
        "--live-tree",
        action="store_true",
        help="run the checkout's src/ as it changes instead of a snapshot taken at start",
    )
    load = commands.add_parser(
        "load", help="only create or top up the bench database of one size (no measuring)"
    )
    load.add_argument("--size", choices=["S", "M", "L"], default="S")
    load.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--data-root", default="/tmp/kehu-bench", help="SQLite data directories")
    load.add_argument("--tickets", type=int, default=None, help="tickets (default: the size's)")
    commands.add_parser("report", help="Markdown table of the newest result per size and db")
    from bench.imports import add_arguments as import_arguments

    import_arguments(
        commands.add_parser("import", help="time kehu import / export of generated files")
    )
    options = parser.parse_args(argv)
    if options.command == "report":
        from bench.report import main as report

        report()
        return 0
    if options.command == "load":
        from bench.run import load_only

        load_only(options)
        return 0
    if not options.live_tree:
        from bench.snapshot import reexec_on_snapshot

        reexec_on_snapshot()
    if options.command == "import":
        from bench.imports import main as import_bench

        return import_bench(options)
    if options.demo is None:
        options.demo = {"S": 10_000, "M": 100_000, "L": 0}[options.size]
    from bench.run import run as run_bench

    run_bench(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
