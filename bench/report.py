"""Markdown tables from bench/results/*.json (``python -m bench report``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.scenarios import verdict

RESULTS = Path(__file__).resolve().parent / "results"


def latest_results() -> list[dict[str, Any]]:
    """The newest result file per (database, size)."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    jobs: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(RESULTS.glob("*.json")):  # names sort by time within a db and size
        data = json.loads(path.read_text(encoding="utf-8"))
        key = (data["db"], data["size"])
        newest[key] = data
        # a run that skipped a job (e.g. --demo 0) keeps the figure of the last run that had it
        jobs.setdefault(key, {}).update(data.get("jobs", {}))
    for key, data in newest.items():
        data["jobs"] = jobs[key]
    order = {"S": 0, "M": 1, "L": 2}
    return sorted(newest.values(), key=lambda d: (order.get(d["size"], 9), d["db"]))


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _load(values: Any) -> str:
    if not values:
        return "—"
    return "/".join(f"{v:.1f}" for v in values)


def _database(settings: dict[str, str] | None) -> str:
    if not settings:
        return ""
    named = ", ".join(
        f"`{name}` {value}" for name, value in settings.items() if name != "server_version"
    )
    return f" PostgreSQL {settings.get('server_version', '')}: {named}."


def _slope(demo: dict[str, Any]) -> str:
    small = demo.get("small_run")
    if not small:
        return ""
    return (
        f" from the slope to the {small['customers']:,}-customer run of {small['seconds']} s, "
        f"{demo['per_customer_ms']} ms per customer"
    )


def markdown(results: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for result in results:
        counts = result.get("counts", {})
        server = result.get("server", {})
        lines.append(
            f"### Size {result['size']} on {result['db']} ({result['date']})\n\n"
            f"{_fmt(counts.get('customers'))} customers, {_fmt(counts.get('contacts'))} contacts, "
            f"{_fmt(counts.get('users'))} users, {_fmt(counts.get('followups'))} follow-ups, "
            f"{_fmt(counts.get('opportunities'))} opportunities, "
            f"{_fmt(counts.get('tickets'))} tickets. Server: `kehu serve --workers "
            f"{server.get('workers')}` (gthread, {server.get('threads_per_worker')} threads, "
            f"cache: {server.get('cache', 'local memory per process')}), "
            f"peak RSS {_fmt(server.get('peak_rss_total_mb'))} MB over "
            f"{server.get('server_processes')} processes (largest "
            f"{_fmt(server.get('peak_rss_process_mb'))} MB). wrk {result['duration_s']} s "
            f"per row; load average (1/5/15 min) at start "
            f"{_load(result['machine'].get('load_average'))}, at end "
            f"{_load(result.get('load_average_end'))}. Code: {result.get('code', 'checkout')}."
            f"{_database(result['machine'].get('database'))}\n"
        )
        lines.append(
            "| Scenario | c | p50 ms | p95 ms | p99 ms | req/s | errors | queries/req "
            "| app CPU ms/req | target | result |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for row in result["scenarios"]:
            if row.get("status") == "failed":
                detail = str(row.get("detail", ""))[:70].replace("|", "/").replace("\n", " ")
                lines.append(
                    f"| {row['title']} | {row.get('concurrency', '—')} | — | — | — | — | — "
                    f"| {_fmt(row.get('queries'))} | {_fmt(row.get('cpu_ms_median'))} | — "
                    f"| MISSED ({detail}) |"
                )
                continue
            if row.get("status") != "ok":
                detail = str(row.get("detail", ""))[:70].replace("|", "/").replace("\n", " ")
                lines.append(
                    f"| {row['title']} | — | — | — | — | — | — | — | — | not available ({detail}) |"
                )
                continue
            target, result_text = verdict(row.get("kind", ""), row)
            lines.append(
                f"| {row['title']} | {row['concurrency']} | {_fmt(row['p50_ms'])} "
                f"| {_fmt(row['p95_ms'])} | {_fmt(row['p99_ms'])} | {_fmt(row['rps'])} "
                f"| {_fmt(row['errors'])} | {_fmt(row.get('queries'))} "
                f"| {_fmt(row.get('cpu_ms_median'))} | {target} | {result_text} |"
            )
        jobs = result.get("jobs", {})
        load = result.get("load", {})
        if load.get("seconds"):
            rate = load["customers"] / load["seconds"]
            lines.append(
                f"| Bench bulk loader ({_fmt(load['customers'])} customers, "
                f"{_fmt(load['contacts'])} contacts) | — | — | — | — | {rate:,.0f} customers/s "
                f"| — | — | — | (no target) | {load['seconds']:,.0f} s |"
            )
        lead = jobs.get("lead_assignment")
        if lead:
            if lead.get("status") == "ok":
                met = "MET" if lead["leads_per_s"] >= 5000 else "MISSED"
                lines.append(
                    f"| Lead assignment batch ({_fmt(lead['leads'])} leads, in-process) | — | — "
                    f"| — | — | {lead['leads_per_s']:,.0f} leads/s | — | — | — "
                    f"| ≥ 5,000 leads/s | {met} ({lead['seconds']} s) |"
                )
            else:
                lines.append(
                    "| Lead assignment batch | — | — | — | — | — | — | — | — | ≥ 5,000 leads/s "
                    f"| not available ({str(lead.get('detail', ''))[:80]}) |"
                )
        for key, title in (
            ("export", "`kehu export customers` (one rep's book of ~2,000, CSV, as admin)"),
            ("import", "`kehu import customers` (CSV, duplicate check on)"),
        ):
            job = jobs.get(key)
            if not job:
                continue
            if job.get("status") == "ok":
                lines.append(
                    f"| {title}, {_fmt(job['rows'])} rows | — | — | — | — "
                    f"| {job['rows_per_s']:,.0f} rows/s | — | — | — | (no target) "
                    f"| {job['seconds']} s |"
                )
            else:
                detail = str(job.get("detail", ""))[-80:].replace("|", "/").replace("\n", " ")
                lines.append(
                    f"| {title} | — | — | — | — | — | — | — | — | (no target) | failed ({detail}) |"
                )
        demo = jobs.get("demo")
        if demo:
            if demo.get("status") == "ok":
                met = "MET" if demo["extrapolated_L_seconds"] <= 300 else "MISSED"
                lines.append(
                    f"| `kehu demo --customers {demo['customers']:,}` | — | — | — | — "
                    f"| {demo['customers_per_s']:,.0f} customers/s | — | — | — | L ≤ 300 s "
                    f"| {met} ({demo['seconds']} s; L ≈ {demo['extrapolated_L_seconds']:,.0f} s"
                    f"{_slope(demo)}) |"
                )
            else:
                lines.append(
                    "| `kehu demo` | — | — | — | — | — | — | — | — | L ≤ 300 s "
                    f"| failed ({str(demo.get('detail', ''))[:80]}) |"
                )
        lines.append("")
    return "\n".join(lines)


TARGETS = [
    ("API list p50 ≤ 15 ms, p99 ≤ 60 ms (c=1)", ("api_list_sales", "api_list_manager"), 1),
    ("API list ≥ 400 req/s, no errors (c=16)", ("api_list_sales", "api_list_manager"), 16),
    ("API detail p50 ≤ 15 ms, p99 ≤ 60 ms (c=1)", ("api_detail",), 1),
    ("API detail ≥ 400 req/s, no errors (c=16)", ("api_detail",), 16),
    (
        "Search p95 ≤ 50 ms (c=1)",
        ("api_search_name", "api_search_name_short", "api_search_phone", "api_search_initials"),
        1,
    ),
    (
        "HTML list and detail p95 ≤ 80 ms (c=1)",
        ("html_list", "html_detail", "html_detail_timeline"),
        1,
    ),
    (
        "Dashboard / board / forecast / funnel ≤ 300 ms (c=1)",
        (
            "dashboard_sales",
            "dashboard_manager",
            "pipeline_board",
            "pipeline_forecast",
            "pipeline_funnel",
        ),
        1,
    ),
]


def summary(results: list[dict[str, Any]]) -> str:
    """One line per target, one column per run: MET only when every scenario of it met it."""
    heads = [f"{r['size']} {r['db']}" for r in results]
    lines = ["| target | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    for title, names, concurrency in TARGETS:
        cells = []
        for result in results:
            verdicts = []
            for row in result["scenarios"]:
                if row["scenario"] not in names:
                    continue
                if row.get("concurrency", concurrency) != concurrency:
                    continue
                if row.get("status") == "ok":
                    verdicts.append(verdict(row.get("kind", ""), row)[1])
                elif row.get("status") == "failed":
                    verdicts.append("MISSED")
            if not verdicts:
                cells.append("not available")
            else:
                cells.append("MET" if all(v == "MET" for v in verdicts) else "MISSED")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    for title, key, check in (
        ("Lead assignment ≥ 5,000 leads/s", "lead_assignment", lambda j: j["leads_per_s"] >= 5000),
        ("Demo generation of L ≤ 5 min", "demo", lambda j: j["extrapolated_L_seconds"] <= 300),
    ):
        cells = []
        for result in results:
            job = result.get("jobs", {}).get(key)
            if not job:
                cells.append("not run")
            elif job.get("status") != "ok":
                cells.append("not available")
            else:
                cells.append("MET" if check(job) else "MISSED")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    results = latest_results()
    print(summary(results))
    print()
    print(markdown(results))
