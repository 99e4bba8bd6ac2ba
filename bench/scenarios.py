"""The benchmark scenarios and the targets they are judged against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Scenario:
    name: str
    title: str
    auth: str  # "sales" / "manager" token, "session" cookie of the sales rep
    paths: list[str]
    concurrency: tuple[int, ...] = (1,)
    method: str = "GET"
    body: str = ""  # Lua format string for POST bodies: %d thread, %d counter
    note: str = ""
    unavailable: str = ""
    queries: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def verdict(kind: str, row: dict[str, Any]) -> tuple[str, str]:
    """(target text, MET/MISSED/—) for one measured row."""
    c = row.get("concurrency")
    if row.get("status") != "ok":
        return "", "—"
    p50, p95, p99 = row["p50_ms"], row["p95_ms"], row["p99_ms"]
    if kind in ("api_list", "api_detail"):
        if c == 1:
            ok = p50 <= 15 and p99 <= 60
            return "p50 ≤ 15 ms, p99 ≤ 60 ms", "MET" if ok else "MISSED"
        ok = row["rps"] >= 400 and row["errors"] == 0
        return "≥ 400 req/s, no errors", "MET" if ok else "MISSED"
    if kind == "write" and row.get("scenario") == "api_create_contacts":
        if c == 1:
            return "p50 ≤ 25 ms", "MET" if p50 <= 25 else "MISSED"
        ok = row["rps"] >= 100 and row["errors"] == 0
        return "≥ 100 req/s, no errors", "MET" if ok else "MISSED"
    if kind == "search" and c == 1:
        return "p95 ≤ 50 ms", "MET" if p95 <= 50 else "MISSED"
    if kind == "html" and c == 1:
        return "p95 ≤ 80 ms", "MET" if p95 <= 80 else "MISSED"
    if kind == "report" and c == 1:
        return "≤ 300 ms (p95)", "MET" if p95 <= 300 else "MISSED"
    if c == 16 and kind in ("search", "html"):
        return "(no target)", "—"
    return "(no target)", "—"


KIND = {
    "api_list_sales": "api_list",
    "api_list_manager": "api_list",
    "api_list_manager_owner": "api_list",
    "api_opportunities_manager": "api_list",
    "api_followups_manager": "api_list",
    "api_tasks_manager": "api_list",
    "api_opportunities_sales": "api_list",
    "api_followups_sales": "api_list",
    "api_tasks_sales": "api_list",
    "api_detail": "api_detail",
    "api_detail_manager": "api_detail",
    "api_contacts_sales": "api_list",
    "api_contacts_manager": "api_list",
    "api_contact_detail": "api_detail",
    "api_contact_search_name": "search",
    "api_contact_search_email": "search",
    "api_contact_search_phone": "search",
    "api_search_name_sales": "search",
    "api_search_initials_sales": "search",
    "api_create_contacts": "write",
    "api_search_name": "search",
    "api_search_name_short": "search",
    "api_search_phone": "search",
    "api_search_initials": "search",
    "api_create": "write",
    "html_list": "html",
    "html_detail": "html",
    "html_detail_timeline": "html",
    "dashboard_sales": "report",
    "dashboard_manager": "report",
    "pipeline_board": "report",
    "pipeline_forecast": "report",
    "pipeline_funnel": "report",
    "api_tickets_agent_open": "api_list",
    "api_tickets_agent_team": "api_list",
    "api_tickets_service_manager": "api_list",
    "api_tickets_service_manager_open": "api_list",
    "api_tickets_service_manager_overdue": "api_list",
    "api_ticket_detail": "api_detail",
    "api_ticket_messages": "api_list",
    "service_report_problems": "report",
    "service_report_keywords": "report",
    "service_report_sla": "report",
    "service_report_times": "report",
    "service_report_satisfaction": "report",
}
KIND_PREFIXES = {"analytics_": "report"}


def kind_of(name: str) -> str:
    """The scenario's kind (what its target is), by name or by prefix."""
    if name in KIND:
        return KIND[name]
    return next((kind for prefix, kind in KIND_PREFIXES.items() if name.startswith(prefix)), "")
