"""``python -m bench run``: load a bench database, serve it, measure the scenarios, write results.

One run = one size (S, M, L) on one database (sqlite, postgresql). Steps:

1. point KEHU_DATA_DIR / KEHU_DATABASE_URL at the bench database, migrate;
2. create the bench users (``kehu user add ... --token``) and a skewed sales organisation, then
   bulk-load customers and contacts up to the size (``bench.loader``); an existing database that
   already holds the size is reused;
3. count the SQL queries of each scenario in-process (Django test Client +
   CaptureQueriesContext);
4. start ``kehu serve`` and drive each scenario with wrk at concurrency 1 and 16, sampling the
   resident memory of the server processes;
5. time the in-process jobs (lead assignment batch, ``kehu demo`` generation);
6. write bench/results/<db>-<size>-<timestamp>.json and print the Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.memory import TreeMemorySampler
from bench.scenarios import Scenario, kind_of

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
KEHU = str(Path(sys.executable).with_name("kehu"))
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
SALES_DEPARTMENT = "华东区/上海组"
SERVICE_CENTRE = "客服中心"
AGENT_DEPARTMENT = "客服中心/一线支持组"
# Characters for the names of created customers: random enough that the duplicate check finds
# no similar name, so the create scenario measures the full path (validation, dedup, numbering).
NAME_CHARS = list(
    "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥金木水火土山川河海云雷风雨霜雪松竹梅兰菊荷桃李杏梨"
)


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# --- environment -----------------------------------------------------------------------------
def configure(options: argparse.Namespace) -> dict[str, str]:
    """Environment for this process and the server: the bench database, Redis only if asked
    (``--redis``: the shared cache of a production setup), no debug."""
    size = options.size.lower()
    data_dir = Path(options.data_root) / f"{options.db}-{size}"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "KEHU_DATA_DIR": str(data_dir),
        "KEHU_DEBUG": "0",
        "KEHU_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "kehu.settings",
    }
    for key in ("KEHU_REDIS_URL", "KEHU_DATABASE_URL", "KEHU_TESTING"):
        os.environ.pop(key, None)
    if options.db == "postgresql":
        database = f"kehu_bench_{size}"
        ensure_pg_database(database)
        env["KEHU_DATABASE_URL"] = f"{PG_SERVER}/{database}"
    if getattr(options, "redis", ""):
        env["KEHU_REDIS_URL"] = options.redis
    os.environ.update(env)
    return env


def ensure_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


# PostgreSQL settings that decide whether a 1,000,000-customer database is read from memory
# (docs/operations.md, "Server settings"); recorded with every PostgreSQL result.
PG_SETTINGS = (
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "random_page_cost",
    "max_parallel_workers_per_gather",
)


def database_settings() -> dict[str, str]:
    from django.db import connection

    if connection.vendor != "postgresql":
        return {}
    found: dict[str, str] = {}
    with connection.cursor() as cursor:
        for name in ("server_version", *PG_SETTINGS):
            cursor.execute(f"SHOW {name}")
            found[name] = str(cursor.fetchone()[0])
    return found


# --- data ------------------------------------------------------------------------------------
def ensure_user(username: str, role: str, department: str, env: dict[str, str]) -> str:
    from bench.loader import BENCH_PASSWORD
    from kehu.accounts import services
    from kehu.accounts.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        command = [KEHU, "user", "add", username, "--role", role, "--department", department]
        command += ["--password", BENCH_PASSWORD, "--token"]
        done = subprocess.run(
            command, env={**os.environ, **env}, capture_output=True, text=True, check=True
        )
        return done.stdout.strip().splitlines()[-1]
    return services.token_create(user=user, name="bench").plaintext


def prepare_data(options: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    from django.core.management import call_command

    from bench import loader
    from kehu.accounts.models import User
    from kehu.customers.models import Contact, Customer
    from kehu.followups.models import FollowUp
    from kehu.opportunities.models import Opportunity
    from kehu.service.models import Ticket

    started = time.perf_counter()
    call_command("migrate", "--noinput", "-v", "0")
    migrate_seconds = time.perf_counter() - started
    tokens = {
        "sales": ensure_user("bench.sales", "sales", SALES_DEPARTMENT, env),
        "manager": ensure_user("bench.manager", "manager", "华东区", env),
        # the service centre (bench/service.py): an agent of 一线支持组 and its manager
        "agent": ensure_user("bench.agent", "service", AGENT_DEPARTMENT, env),
        "service_manager": ensure_user("bench.service_manager", "manager", SERVICE_CENTRE, env),
        "admin": ensure_user("bench.admin", "admin", "华东区", env),
    }
    rng = random.Random(options.seed)
    owners = loader.ensure_org(rng=rng)
    pinned = [User.objects.get(username="bench.sales")]
    size = loader.SIZES[options.size]
    have = Customer.objects.count()
    load_report: dict[str, Any] = {"reused_customers": have}
    if have < size.customers:
        log(f"loading {size.customers - have:,} customers into {options.db}")
        report = loader.load(
            customers=size.customers - have,
            contacts_per_customer=size.contacts_per_customer,
            seed=options.seed + have,
            owners=owners,
            pinned=pinned,
        )
        load_report.update(report.as_dict())
        log(f"loaded in {report.seconds:.0f}s")
    from bench.activity import load_activity

    activity = load_activity(
        followups=size.followups, opportunities=size.opportunities, seed=options.seed + have
    )
    if activity.followups or activity.opportunities:
        load_report["activity"] = activity.as_dict()
        log(f"follow-ups and opportunities loaded in {activity.seconds:.0f}s")
    from bench import service

    tickets_wanted = options.tickets if options.tickets is not None else size.tickets
    agents = service.ensure_service_org(rng=rng, pinned=[User.objects.get(username="bench.agent")])
    ticket_report = service.load_tickets(
        tickets=tickets_wanted, agents=agents, seed=options.seed + have
    )
    if ticket_report.tickets:
        load_report["tickets"] = ticket_report.as_dict()
        log(f"{ticket_report.tickets:,} tickets loaded in {ticket_report.seconds:.0f}s")
    return {
        "tokens": tokens,
        "migrate_seconds": round(migrate_seconds, 1),
        "load": load_report,
        "counts": {
            "customers": Customer.objects.count(),
            "contacts": Contact.objects.count(),
            "users": User.objects.count(),
            "followups": FollowUp.objects.count(),
            "opportunities": Opportunity.objects.count(),
            "tickets": Ticket.objects.count(),
        },
    }


# --- scenarios -------------------------------------------------------------------------------
def build_scenarios(options: argparse.Namespace) -> list[Scenario]:
    from django.urls import NoReverseMatch, reverse

    from kehu.accounts.models import User
    from kehu.customers.models import Contact, Customer
    from kehu.customers.normalize import pinyin_keys

    rng = random.Random(options.seed)
    sales = User.objects.get(username="bench.sales")
    # the same 200 in every run: drawn from the rep's oldest customers (the loaded ones; the
    # create scenario adds newer ones each run), with the seeded generator
    oldest = Customer.objects.filter(owner=sales).order_by("id").values_list("id", flat=True)
    pool = list(oldest[:20_000])
    picked = rng.sample(pool, min(200, len(pool)))
    found = dict(Customer.objects.filter(pk__in=picked).values_list("id", "name"))
    mine = [(pk, found[pk]) for pk in picked]
    ids = [pk for pk, _name in mine]
    names = [name for _pk, name in mine]
    phones = list(Contact.objects.filter(customer_id__in=ids[:50]).values_list("mobile", flat=True))
    contacts = list(
        Contact.objects.filter(customer_id__in=ids[:100])
        .order_by("id")
        .values_list("id", "name", "email", "mobile")
    )
    name_terms = []
    initial_terms = []
    for name in names[:40]:
        # the brand and trade part, e.g. 上海瑞德电子科技有限公司 → 瑞德电子
        core = re.sub(r"(股份)?有限(责任)?公司$", "", name)
        start = rng.randint(1, max(1, len(core) - 4))
        term = core[start : start + 4]
        name_terms.append(term)
        initial_terms.append(pinyin_keys(term)[1])
    phone_terms = [phone[-8:] for phone in phones[:40] if phone]
    # contacts searched by name, by a part of the e-mail's local part and by 4-7 digits of
    # the mobile (the "search contacts by 4-7 phone digits")
    contact_names = [name for _pk, name, _email, _mobile in contacts[:40]]
    contact_emails = [email.split("@")[0][:-2] for _pk, _n, email, _m in contacts[:40] if email]
    contact_digits = [
        mobile[-(4 + index % 4) :] for index, (_pk, _n, _e, mobile) in enumerate(contacts[:40])
    ]
    q = urllib.request.quote
    scenarios = [
        Scenario(
            "api_list_sales",
            "API customer list, sales rep (50, default sort)",
            "sales",
            ["/api/v1/customers?limit=50"],
            (1, 16),
        ),
        Scenario(
            "api_list_manager",
            "API customer list, regional manager (50, default sort)",
            "manager",
            ["/api/v1/customers?limit=50"],
            (1, 16),
        ),
        Scenario(
            "api_list_manager_owner",
            "API customer list, manager, owner filter",
            "manager",
            [f"/api/v1/customers?limit=50&owner={sales.pk}"],
            (1,),
        ),
        # the other lists a manager pages through, each from its own module
        Scenario(
            "api_opportunities_manager",
            "API opportunity list, regional manager (50)",
            "manager",
            ["/api/v1/opportunities?limit=50"],
        ),
        Scenario(
            "api_followups_manager",
            "API follow-up list, regional manager (50)",
            "manager",
            ["/api/v1/followups?limit=50"],
        ),
        Scenario(
            "api_tasks_manager",
            "API task list, regional manager (50)",
            "manager",
            ["/api/v1/tasks?limit=50"],
        ),
        # the same lists as the sales rep, whose scope PostgreSQL checks differently
        Scenario(
            "api_opportunities_sales",
            "API opportunity list, sales rep (50)",
            "sales",
            ["/api/v1/opportunities?limit=50"],
        ),
        Scenario(
            "api_followups_sales",
            "API follow-up list, sales rep (50)",
            "sales",
            ["/api/v1/followups?limit=50"],
        ),
        Scenario(
            "api_tasks_sales",
            "API task list, sales rep (50)",
            "sales",
            ["/api/v1/tasks?limit=50"],
        ),
        Scenario(
            "api_detail",
            "API customer detail",
            "sales",
            [f"/api/v1/customers/{pk}" for pk in ids],
            (1, 16),
        ),
        Scenario(
            "api_detail_manager",
            "API customer detail, manager",
            "manager",
            [f"/api/v1/customers/{pk}" for pk in ids],
        ),
        Scenario(
            "api_contacts_sales",
            "API contact list, sales rep (50)",
            "sales",
            ["/api/v1/contacts?limit=50"],
            (1, 16),
        ),
        Scenario(
            "api_contacts_manager",
            "API contact list, regional manager (50)",
            "manager",
            ["/api/v1/contacts?limit=50"],
            (1, 16),
        ),
        Scenario(
            "api_contacts_manager_by_name",
            "API contact list by name, regional manager (50)",
            "manager",
            ["/api/v1/contacts?limit=50&sort=name"],
            (1, 16),
        ),
        Scenario(
            "api_contacts_admin_newest",
            "API contact list newest first, administrator (50)",
            "admin",
            ["/api/v1/contacts?limit=50&sort=-created"],
            (1, 16),
        ),
        Scenario(
            "api_contact_detail",
            "API contact detail",
            "sales",
            [f"/api/v1/contacts/{pk}" for pk, _n, _e, _m in contacts],
        ),
        Scenario(
            "api_contact_search_name",
            "API contact search, name",
            "manager",
            [f"/api/v1/contacts?limit=50&q={q(t)}" for t in contact_names],
        ),
        Scenario(
            "api_contact_search_email",
            "API contact search, e-mail part",
            "manager",
            [f"/api/v1/contacts?limit=50&q={q(t)}" for t in contact_emails],
        ),
        Scenario(
            "api_contact_search_phone",
            "API contact search, 4-7 phone digits",
            "manager",
            [f"/api/v1/contacts?limit=50&q={t}" for t in contact_digits],
        ),
        Scenario(
            "api_search_name_sales",
            "API search, name substring, sales rep",
            "sales",
            [f"/api/v1/customers?limit=50&q={q(t)}" for t in name_terms],
        ),
        Scenario(
            "api_search_initials_sales",
            "API search, pinyin initials, sales rep",
            "sales",
            [f"/api/v1/customers?limit=50&q={t}" for t in initial_terms],
        ),
        Scenario(
            "api_search_name",
            "API search, name substring",
            "manager",
            [f"/api/v1/customers?limit=50&q={q(t)}" for t in name_terms],
        ),
        Scenario(
            "api_search_name_short",
            "API search, two-character name",
            "manager",
            # two Han characters, how people mostly search a Chinese name (瑞德 of 上海瑞德…)
            [f"/api/v1/customers?limit=50&q={q(t[:2])}" for t in name_terms],
        ),
        Scenario(
            "api_search_phone",
            "API search, phone digits",
            "manager",
            [f"/api/v1/customers?limit=50&q={t}" for t in phone_terms],
        ),
        Scenario(
            "api_search_initials",
            "API search, pinyin initials",
            "manager",
            [f"/api/v1/customers?limit=50&q={t}" for t in initial_terms],
        ),
        Scenario(
            "api_create",
            "API create customer (POST)",
            "sales",
            ["/api/v1/customers"],
            method="POST",
            body='{"name": "%s科技有限公司", "source": "website", "notes": "bench %d-%d"}',
        ),
        Scenario(
            "api_create_contacts",
            "API create customer with two contacts (POST)",
            "sales",
            ["/api/v1/customers"],
            (1, 16),
            method="POST",
            # the mobile is new within a run (thread, counter); a later run repeats it, which
            # the duplicate check finds as the rep's own customer and ``force`` lets through
            body='{"name": "%s科技有限公司", "source": "website", "force": true, "contacts": '
            '[{"name": "王伟", "mobile": "139%01d%07d", "title": "总经理"}, '
            '{"name": "李娜", "title": "采购经理"}]}',
        ),
        Scenario("html_list", "HTML customer list page", "session_sales", ["/customers/"]),
        Scenario(
            "html_detail",
            "HTML customer detail page",
            "session_sales",
            [f"/customers/{pk}/" for pk in ids],
        ),
        Scenario(
            "html_detail_timeline",
            "HTML customer timeline tab (loaded when opened)",
            "session_sales",
            [f"/customers/{pk}/tabs/timeline/" for pk in ids],
        ),
    ]
    manager, rep = "session_manager", "session_sales"
    for name, url_name, title, who in (
        ("dashboard_sales", "core:dashboard", "Dashboard (HTML, sales rep)", rep),
        ("dashboard_manager", "core:dashboard", "Dashboard (HTML, manager)", manager),
        ("pipeline_board", "opportunities:board", "Pipeline board (HTML, manager)", manager),
        ("pipeline_forecast", "opportunities:forecast", "Forecast (HTML, manager)", manager),
        ("pipeline_funnel", "opportunities:funnel", "Funnel (HTML, manager)", manager),
    ):
        try:
            path = reverse(url_name)
            scenarios.append(Scenario(name, title, who, [path]))
        except NoReverseMatch:
            scenarios.append(Scenario(name, title, who, [], unavailable="no such page"))
    scenarios += service_scenarios(rng)
    scenarios += analytics_scenarios()
    only = [name.strip() for name in getattr(options, "only", "").split(",") if name.strip()]
    if only:
        scenarios = [s for s in scenarios if any(s.name.startswith(name) for name in only)]
    return scenarios


def service_scenarios(rng: random.Random) -> list[Scenario]:
    """Ticket lists of an agent (mine, open) and of the service manager (everything they
    see, and the open ones), ticket detail, and the service reports (issue 27: lists p50 ≤
    15 ms, reports ≤ 300 ms). Endpoints that do not exist yet are reported "not available"
    by ``count_queries`` (their HTTP 404)."""
    from kehu.accounts.models import User
    from kehu.service.models import Ticket

    agent = User.objects.filter(username="bench.agent").first()
    mine = Ticket.objects.filter(assignee=agent).order_by("id").values_list("id", flat=True)
    pool = list(mine[:20_000]) if agent is not None else []
    tickets = rng.sample(pool, min(200, len(pool)))
    scenarios = [
        Scenario(
            "api_tickets_agent_open",
            "API ticket list, agent: mine, open (50)",
            "agent",
            ["/api/v1/tickets?limit=50&tab=mine&status=open"],
            (1, 16),
        ),
        Scenario(
            "api_tickets_agent_team",
            "API ticket list, agent: the team's (50)",
            "agent",
            ["/api/v1/tickets?limit=50&tab=team"],
        ),
        Scenario(
            "api_tickets_service_manager",
            "API ticket list, service manager: all they see (50)",
            "service_manager",
            ["/api/v1/tickets?limit=50"],
            (1, 16),
        ),
        Scenario(
            "api_tickets_service_manager_open",
            "API ticket list, service manager: open (50)",
            "service_manager",
            ["/api/v1/tickets?limit=50&status=open"],
        ),
        Scenario(
            "api_tickets_service_manager_overdue",
            "API ticket list, service manager: past their SLA (50)",
            "service_manager",
            ["/api/v1/tickets?limit=50&sla=overdue"],
        ),
        Scenario(
            "api_ticket_detail",
            "API ticket detail, agent",
            "agent",
            [f"/api/v1/tickets/{pk}" for pk in tickets],
            (1, 16),
        ),
        Scenario(
            "api_ticket_messages",
            "API ticket thread, agent",
            "agent",
            [f"/api/v1/tickets/{pk}/messages" for pk in tickets],
        ),
    ]
    for report in ("problems", "keywords", "sla", "times", "satisfaction"):
        scenarios.append(
            Scenario(
                f"service_report_{report}",
                f"Service report {report} (API, service manager, last 90 days)",
                "service_manager",
                [f"/api/v1/reports/service/{report}"],
            )
        )
    return scenarios


ANALYTICS_REPORTS = (
    "targets",
    "stage-conversion",
    "deal-cycle",
    "followup-effectiveness",
    "rep-performance",
    "data-quality",
    "demand-hotspots",
    "churn-risk",
    "high-value",
)


def analytics_scenarios() -> list[Scenario]:
    """Each analysis report (issue 28: ≤ 300 ms p95 at size L) over the current quarter, as a
    rep, a regional manager and an admin, and the quarterly review page of the manager's
    department. A report that does not exist answers 404 and is marked "not available"."""
    from django.urls import NoReverseMatch, reverse

    scenarios = []
    for key in ANALYTICS_REPORTS:
        for who in ("sales", "manager", "admin"):
            scenarios.append(
                Scenario(
                    f"analytics_{key.replace('-', '_')}_{who}",
                    f"Report {key} (API, {who}, this quarter)",
                    who,
                    [f"/api/v1/reports/{key}"],
                )
            )
    try:
        review = [reverse("analytics:review")]
    except NoReverseMatch:
        review = []
    scenarios.append(
        Scenario(
            "analytics_quarterly_review",
            "Quarterly review (HTML, manager, own department)",
            "session_manager",
            review,
            unavailable="" if review else "no such page",
        )
    )
    return scenarios


def count_queries(scenarios: list[Scenario], tokens: dict[str, str]) -> dict[str, str]:
    """Queries per request, in-process; marks scenarios whose endpoint does not answer 2xx."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from kehu.accounts.models import User

    cookies: dict[str, str] = {}
    for who in ("sales", "manager"):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(username=f"bench.{who}"))
        cookies[f"session_{who}"] = f"sessionid={client.cookies['sessionid'].value}"
    for scenario in scenarios:
        if scenario.unavailable or not scenario.paths:
            scenario.unavailable = scenario.unavailable or "no data to request"
            continue
        client = Client(HTTP_HOST="127.0.0.1")
        headers: dict[str, str] = {}
        if scenario.auth in tokens:
            headers["Authorization"] = f"Bearer {tokens[scenario.auth]}"
        else:
            client.cookies.load(cookies[scenario.auth])
        path = scenario.paths[0]
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            if scenario.method == "POST":
                body = post_body(scenario)
                response = client.post(path, body, content_type="application/json", headers=headers)
            else:
                response = client.get(path, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
        scenario.queries = len(captured)
        scenario.extra["in_process_ms"] = round(elapsed, 1)
        scenario.extra["status"] = response.status_code
        if response.status_code < 400:
            scenario.extra.update(_cpu_per_request(client, scenario, headers))
        if response.status_code >= 400:
            detail = response.content[:200].decode("utf-8", "replace")
            scenario.unavailable = f"HTTP {response.status_code}: {detail}"
        elif scenario.name == "api_list_manager_owner":
            counts = json.loads(response.content).get("count")
            scenario.extra["rows_matching"] = counts
    return cookies


def post_body(scenario: Scenario) -> str:
    """A POST body as wrk's script makes it: a random name, thread 9 (wrk's are 0 and 1),
    a random counter."""
    name = "".join(random.sample(NAME_CHARS, 6))
    return scenario.body % (name, 9, random.randrange(10_000_000))


def _cpu_per_request(client: Any, scenario: Scenario, headers: dict[str, str]) -> dict[str, Any]:
    """Median CPU time of this process per request (10 requests): the application's own cost.

    Unlike wall-clock latency it hardly moves when other processes compete for the CPU; it
    includes SQLite's work (in-process) but not PostgreSQL's (another process).
    """
    cpu: list[float] = []
    wall: list[float] = []
    for index in range(10):
        path = scenario.paths[index % len(scenario.paths)]
        started_cpu, started = time.process_time(), time.perf_counter()
        if scenario.method == "POST":
            client.post(path, post_body(scenario), content_type="application/json", headers=headers)
        else:
            client.get(path, headers=headers)
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return {
        "cpu_ms_median": round(statistics.median(cpu), 1),
        "wall_ms_median_in_process": round(statistics.median(wall), 1),
    }


LUA = r"""
local paths = {%(paths)s}
local headers = {%(headers)s}
local body = %(body)s
local counter = 0
local thread_no = 0
local words = {%(words)s}
setup = function(thread)
  thread:set("tid", thread_no)
  thread_no = thread_no + 1
end
init = function(args)
  math.randomseed(%(seed)d + 7919 * (tid or 0))  -- new names every run and thread
end
request = function()
  counter = counter + 1
  local path = paths[(counter %% #paths) + 1]
  if body then
    local name = ""
    for _ = 1, 6 do name = name .. words[math.random(#words)] end
    return wrk.format("POST", path, headers, string.format(body, name, tid or 0, counter))
  end
  return wrk.format("GET", path, headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"p50\":%%d,\"p95\":%%d,\"p99\":%%d,\"max\":%%d,\"requests\":%%d," ..
    "\"duration_us\":%%d,\"status_errors\":%%d,\"socket_errors\":%%d}\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_script(scenario: Scenario, auth_header: dict[str, str], directory: Path) -> Path:
    headers = dict(auth_header)
    if scenario.method == "POST":
        headers["Content-Type"] = "application/json"
    script = LUA % {
        "paths": ", ".join(lua_string(p) for p in scenario.paths),
        "headers": ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()),
        "body": lua_string(scenario.body) if scenario.body else "nil",
        "words": ", ".join(lua_string(c) for c in NAME_CHARS),
        "seed": random.SystemRandom().randrange(1, 2**31),
    }
    path = directory / f"{scenario.name}.lua"
    path.write_text(script, encoding="utf-8")
    return path


def start_server(options: argparse.Namespace, env: dict[str, str], log_path: Path) -> Any:
    command = [KEHU, "serve", "--host", "127.0.0.1", "--port", str(options.port)]
    command += ["--workers", str(options.workers), "--no-worker"]
    handle = log_path.open("w")
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kehu serve exited; see {log_path}")
        try:
            url = f"http://127.0.0.1:{options.port}/accounts/login/"
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("kehu serve did not answer within 120 s")


def stop_server(process: Any) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def run_wrk(
    options: argparse.Namespace, script: Path, concurrency: int, sampler: TreeMemorySampler
) -> dict[str, Any]:
    threads = 1 if concurrency == 1 else 2
    command = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{options.duration}s"]
    command += ["--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{options.port}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    match = re.search(r"BENCH_JSON (\{.*\})", done.stdout)
    if not match:
        return {"status": "failed", "detail": (done.stdout + done.stderr)[-500:]}
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    if not data["requests"]:
        return {"status": "failed", "detail": f"no response completed in {options.duration} s"}
    return {
        "status": "ok",
        "p50_ms": round(data["p50"] / 1000, 1),
        "p95_ms": round(data["p95"] / 1000, 1),
        "p99_ms": round(data["p99"] / 1000, 1),
        "max_ms": round(data["max"] / 1000, 1),
        "requests": data["requests"],
        "rps": round(data["requests"] / seconds, 1) if seconds else 0.0,
        "errors": data["status_errors"] + data["socket_errors"],
    }


def run_http(
    options: argparse.Namespace,
    env: dict[str, str],
    scenarios: list[Scenario],
    tokens: dict[str, str],
    cookies: dict[str, str],
    workdir: Path,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    server = start_server(options, env, workdir / "server.log")
    sampler = TreeMemorySampler(server.pid)
    sampler.start()
    # Every gunicorn worker imports the URLconf and the API on its first request (seconds on a
    # busy machine): warm them all up before measuring.
    subprocess.run(
        ["wrk", "-t2", f"-c{options.workers * 4}", "-d3s", f"http://127.0.0.1:{options.port}/"],
        capture_output=True,
        check=False,
    )
    try:
        for scenario in scenarios:
            base = {
                "scenario": scenario.name,
                "title": scenario.title,
                "kind": kind_of(scenario.name),
                "queries": scenario.queries,
                "note": scenario.note,
                **{k: v for k, v in scenario.extra.items() if k != "status"},
            }
            if scenario.unavailable:
                rows.append({**base, "status": "not available", "detail": scenario.unavailable})
                log(f"{scenario.name}: not available ({scenario.unavailable[:80]})")
                continue
            if scenario.auth in tokens:
                auth = {"Authorization": f"Bearer {tokens[scenario.auth]}"}
            else:
                auth = {"Cookie": cookies[scenario.auth]}
            script = wrk_script(scenario, auth, workdir)
            for concurrency in scenario.concurrency:
                result = run_wrk(options, script, concurrency, sampler)
                rows.append({**base, "concurrency": concurrency, **result})
                log(
                    f"{scenario.name} c={concurrency}: "
                    + ", ".join(f"{k}={result.get(k)}" for k in ("p50_ms", "p99_ms", "rps"))
                )
    finally:
        try:
            sampler.stop()
        finally:
            stop_server(server)
    memory = {
        "peak_rss_total_mb": round(sampler.peak_total_kb / 1024, 1),
        "peak_rss_process_mb": round(sampler.peak_process_kb / 1024, 1),
        "server_processes": sampler.processes,
        "workers": options.workers,
        "threads_per_worker": 4,
        "cache": "redis" if getattr(options, "redis", "") else "local memory per process",
    }
    return rows, memory


# --- jobs ------------------------------------------------------------------------------------
def time_lead_assignment(count: int) -> dict[str, Any]:
    """Pool ``count`` leads and time ``leads.services.assignment_batch`` on them."""
    try:
        from kehu.leads import services as lead_services
        from kehu.leads.models import AssignmentRule, Lead, LeadStatus
    except ImportError as error:
        return {"status": "not available", "detail": str(error)}
    if not hasattr(lead_services, "assignment_batch"):
        return {"status": "not available", "detail": "no leads.services.assignment_batch"}
    from django.utils import timezone

    from kehu.accounts.models import User
    from kehu.customers.models import Region

    admin = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        "bench.admin", "bench@example.cn", None, role="admin"
    )
    if not AssignmentRule.objects.exists():
        reps = list(
            User.objects.filter(username__startswith="rep.shanghai").values_list("id", flat=True)
        )
        try:
            lead_services.rule_create(
                actor=admin,
                data={"name": "bench round robin", "reps": reps},
            )
        except Exception as error:  # the rule schema belongs to the leads app; report it
            return {"status": "not available", "detail": f"cannot create a rule: {error}"}
    now = timezone.now()
    cities = list(Region.objects.filter(level=2).values_list("code", flat=True)[:50])
    rng = random.Random(7)
    Lead.objects.filter(status=LeadStatus.POOL).delete()
    Lead.objects.bulk_create(
        [
            Lead(
                company_name=f"压测线索{index}有限公司",
                contact_name="王先生",
                mobile=f"+86139{rng.randint(10000000, 99999999)}",
                region_id=rng.choice(cities),
                priority="B",
                source="website",
                status=LeadStatus.POOL,
                created_at=now,
            )
            for index in range(count)
        ],
        batch_size=2000,
    )
    started = time.perf_counter()
    run = lead_services.assignment_batch(actor=admin)
    seconds = time.perf_counter() - started
    return {
        "status": "ok",
        "leads": count,
        "assigned": run.assigned,
        "seconds": round(seconds, 2),
        "leads_per_s": round(count / seconds, 0),
    }


def time_transfer(env: dict[str, str], workdir: Path, rows: int) -> dict[str, Any]:
    """``kehu export customers`` of a rep's book of ~``rows``, then ``kehu import`` of it.

    The import file is the export's first rows with the names made unique and the contacts'
    phones and e-mails left as they are, imported with ``--on-duplicate create``: every row goes
    through parsing, cleaning, the duplicate check and creation.
    """
    import csv

    from django.db.models import Count

    from kehu.customers.models import Customer

    ensure_user("bench.admin", "admin", "总部", env)  # exports are for admins
    # the rep whose book is closest to ``rows`` customers: the export stays the same size
    books = Customer.objects.values_list("owner").annotate(n=Count("id")).order_by()
    owner = min(books, key=lambda book: abs(book[1] - rows))[0]
    out: dict[str, Any] = {}
    export_path = workdir / "export.csv"
    command = [KEHU, "export", "customers", "--format", "csv", "-o", str(export_path)]
    command += ["--owner", str(owner)]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--user", "bench.admin"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        return {"status": "failed", "detail": (done.stdout + done.stderr)[-300:]}
    with export_path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        data = [row for _, row in zip(range(rows), reader, strict=False)]
        exported = len(data) + sum(1 for _ in reader)
    out["export"] = {
        "status": "ok",
        "rows": exported,
        "seconds": round(seconds, 1),
        "rows_per_s": round(exported / seconds, 0),
    }
    name_column = next(
        (i for i, title in enumerate(header) if "Customer name" in title or "客户名称" in title), 1
    )
    rng = random.Random(3)
    for row in data:
        row[name_column] = "".join(rng.sample(NAME_CHARS, 6)) + "科技有限公司"
    import_path = workdir / "import.csv"
    with import_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(data)
    command = [KEHU, "import", "customers", str(import_path), "--on-duplicate", "create"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--user", "bench.admin"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        out["import"] = {"status": "failed", "detail": (done.stdout + done.stderr)[-300:]}
    else:
        out["import"] = {
            "status": "ok",
            "rows": len(data),
            "seconds": round(seconds, 1),
            "rows_per_s": round(len(data) / seconds, 0),
            "output": (done.stdout + done.stderr).strip()[-200:],
        }
    return out


def time_demo(options: argparse.Namespace, env: dict[str, str], customers: int) -> dict[str, Any]:
    """``kehu demo --customers N`` into a scratch database, and once more with N/10 customers.

    The fixed part of a demo run (process start-up, the demo users' password hashing, the care
    calendar) does not grow with N, so size L is extrapolated from the slope between the two
    runs: t(N) + (1,000,000 − N) × (t(N) − t(N/10)) / (N − N/10).
    """
    small = max(1, customers // 10)
    timings = {}
    for count in (small, customers):
        timed = _time_demo_once(options, env, count)
        if timed.get("status") != "ok":
            return timed
        timings[count] = timed["seconds"]
    seconds = timings[customers]
    slope = max(seconds - timings[small], 0.001) / (customers - small)
    return {
        "status": "ok",
        "customers": customers,
        "seconds": round(seconds, 1),
        "customers_per_s": round(customers / seconds, 0),
        "small_run": {"customers": small, "seconds": round(timings[small], 1)},
        "per_customer_ms": round(slope * 1000, 3),
        "extrapolated_L_seconds": round(seconds + (1_000_000 - customers) * slope, 0),
    }


def _time_demo_once(
    options: argparse.Namespace, env: dict[str, str], customers: int
) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="kehu-bench-demo-"))
    demo_env = {**os.environ, **env, "KEHU_DATA_DIR": str(scratch)}
    if options.db == "postgresql":
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "kehu_bench_demo" WITH (FORCE)')
            conn.execute('CREATE DATABASE "kehu_bench_demo"')
        demo_env["KEHU_DATABASE_URL"] = f"{PG_SERVER}/kehu_bench_demo"
    migrate = subprocess.run(
        [KEHU, "manage", "migrate", "--noinput", "-v", "0"], env=demo_env, check=False
    )
    if migrate.returncode:
        return {"status": "failed", "detail": "migrate failed"}
    started = time.perf_counter()
    done = subprocess.run(
        [KEHU, "demo", "--customers", str(customers)],
        env=demo_env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    shutil.rmtree(scratch, ignore_errors=True)
    if done.returncode:
        return {"status": "failed", "detail": done.stderr[-300:]}
    return {"status": "ok", "seconds": seconds}


# --- entry point -----------------------------------------------------------------------------
def load_only(options: argparse.Namespace) -> None:
    """``python -m bench load``: migrate and load (or top up) the size, nothing measured."""
    env = configure(options)
    import django

    django.setup()
    log(f"loading size {options.size} on {options.db} ({env['KEHU_DATA_DIR']})")
    data = prepare_data(options, env)
    data.pop("tokens")
    log(f"done: {json.dumps(data, ensure_ascii=False, default=str)}")


def run(options: argparse.Namespace) -> Path:
    env = configure(options)
    import django

    django.setup()
    log(f"size {options.size} on {options.db} ({env['KEHU_DATA_DIR']})")
    started = datetime.now(UTC)
    host = machine()
    host["database"] = database_settings()
    data = prepare_data(options, env)
    tokens = data.pop("tokens")
    scenarios = build_scenarios(options)
    cookies = count_queries(scenarios, tokens)
    from django.db import connection

    connection.close()
    workdir = Path(tempfile.mkdtemp(prefix=f"kehu-bench-{options.db}-{options.size}-"))
    rows, memory = run_http(options, env, scenarios, tokens, cookies, workdir)
    jobs: dict[str, Any] = {}
    if options.leads:
        log(f"lead assignment of {options.leads:,} leads")
        try:
            jobs["lead_assignment"] = time_lead_assignment(options.leads)
        except Exception as error:  # a job that breaks is a result, not a crash of the run
            jobs["lead_assignment"] = {"status": "failed", "detail": repr(error)[:300]}
    if options.transfer:
        log(f"kehu export / kehu import of {options.transfer:,} rows")
        jobs.update(time_transfer(env, workdir, options.transfer))
    if options.demo:
        log(f"kehu demo --customers {options.demo:,}")
        jobs["demo"] = time_demo(options, env, options.demo)
    result = {
        "date": started.isoformat(timespec="seconds"),
        "size": options.size,
        "db": options.db,
        "duration_s": options.duration,
        "machine": host,
        "server": memory,
        **data,
        "scenarios": rows,
        "jobs": jobs,
        "workdir": str(workdir),
        "code": os.environ.get("BENCH_SNAPSHOT", "live checkout"),
        "load_average_end": os.getloadavg(),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{options.db}-{options.size}-{started:%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    log(f"wrote {out}")
    from bench.report import markdown

    print(markdown([result]))
    return out
