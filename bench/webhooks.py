"""Outbound webhooks under load: N events delivered to a local receiver through the real job
worker, and the latency of web requests meanwhile (issue 31: "webhook delivery of 10,000
events to a local receiver without blocking web requests").

    KEHU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_hook \\
    KEHU_REDIS_URL=redis://127.0.0.1:6379/8 PYTHONPATH=src \\
        .venv/bin/python -m bench.webhooks [--events 10000] [--batch 100] [--json out.json]

Needs its own database (it migrates it and adds customers) and Redis (the huey queue). It
starts ``kehu serve`` (no worker) and ``kehu worker`` as subprocesses and a receiver thread that
verifies every signature as docs/integration.md shows. Three phases:

1. baseline: for ``--probe`` seconds a client thread alternates ``GET /api/v1/customers`` and
   ``GET /api/v1/customers/{id}`` against the server, no webhook active;
2. load: one webhook on ``customer.created``; the bench creates ``--events`` customers through
   ``customers_create_bulk`` in batches of ``--batch`` (one commit, one fan-out job per batch)
   while the same client keeps probing; the write time per batch is recorded;
3. drain: wait until the receiver has every delivery (or ``--timeout``).

Reported: events/s delivered (first batch committed → last delivery received), the write time
per batch with and without the webhook, the probe's p50/p95 in both phases, bad signatures,
failed deliveries.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
os.environ["KEHU_JOBS_IMMEDIATE"] = "0"


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Receiver:
    def __init__(self) -> None:
        self.secret = ""
        self.count = 0
        self.bad = 0
        self.ids: set[str] = set()
        self.last = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stamp = self.headers.get("X-Kehu-Timestamp", "")
                mac = hmac.new(receiver.secret.encode(), stamp.encode() + b"." + body, "sha256")
                good = hmac.compare_digest(
                    "v1=" + mac.hexdigest(), self.headers.get("X-Kehu-Signature", "")
                )
                with receiver.lock:
                    receiver.count += 1
                    receiver.bad += 0 if good else 1
                    receiver.ids.add(self.headers.get("X-Kehu-Event-Id", ""))
                    receiver.last = time.monotonic()
                self.send_response(200 if good else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kehu"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Probe(threading.Thread):
    """Alternates the customer list and one customer's page over HTTP (the API); records each
    latency in ms. Writes are timed in-process (``customers_create_bulk`` per batch)."""

    def __init__(self, base: str, token: str, customer_id: int) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.token = token
        self.customer_id = customer_id
        self.errors: list[str] = []
        self.samples: list[tuple[str, float]] = []
        self.running = True
        self.n = 0

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
        kind = "list" if "?" in path else "detail"
        self.samples.append((kind, (time.perf_counter() - started) * 1000))

    def run(self) -> None:
        while self.running:
            self.n += 1
            try:
                self._call("GET", "/api/v1/customers?limit=50")
                self._call("GET", f"/api/v1/customers/{self.customer_id}")
            except OSError as error:  # urllib's HTTPError too: counted, the probe goes on
                self.errors.append(repr(error))

    def take(self) -> list[tuple[str, float]]:
        taken, self.samples = self.samples, []
        return taken


def summary(samples: list[tuple[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("list", "detail"):
        values = [ms for m, ms in samples if m == kind]
        out[kind] = {
            "n": len(values),
            "p50_ms": round(_p(values, 0.5), 1),
            "p95_ms": round(_p(values, 0.95), 1),
        }
    return out


def wait_http(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.5)
    raise SystemExit(f"server at {url} did not start")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--probe", type=float, default=15.0, help="baseline seconds")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--job-workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--json", default="")
    parser.add_argument(
        "--source",
        choices=("emit", "create"),
        default="emit",
        help="emit: customer.updated events of existing customers; create: new customers",
    )
    options = parser.parse_args()
    if not os.environ.get("KEHU_REDIS_URL"):
        raise SystemExit("set KEHU_REDIS_URL: the bench runs the real huey queue on Redis")

    kehu = [sys.executable, "-m", "kehu.cli"]
    subprocess.run([*kehu, "manage", "migrate", "--no-input", "-v", "0"], check=True)

    import django

    django.setup()
    from django.db import transaction
    from huey.contrib.djhuey import HUEY

    from kehu.accounts.models import Role, User
    from kehu.accounts.services import token_create
    from kehu.core import config, events
    from kehu.customers.models import Customer
    from kehu.customers.services import NewCustomer, customers_create_bulk
    from kehu.integrations.models import WebhookDelivery, WebhookSubscription
    from kehu.integrations.services import webhooks

    HUEY.flush()
    WebhookSubscription.objects.all().delete()
    admin = User.objects.filter(username="bench.hook.admin").first()
    if admin is None:
        admin = User.objects.create(username="bench.hook.admin", role=Role.ADMIN)
    token = token_create(user=admin, name="bench webhooks").plaintext
    config.put(webhooks.ALLOW_INTERNAL.key, True, actor=admin, reason="bench")

    receiver = Receiver()
    env = dict(os.environ)
    server = subprocess.Popen(
        [
            *kehu,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(options.port),
            "--workers",
            str(options.server_workers),
            "--no-worker",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [*kehu, "worker", "--workers", str(options.job_workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{options.port}"
    results: dict[str, Any] = {
        "events": options.events,
        "batch": options.batch,
        "source": options.source,
    }
    try:

        def write(count: int, label: str) -> list[float]:
            times = []
            for start in range(0, count, options.batch):
                rows = [
                    NewCustomer(values={"name": f"推送测试{label}{start + i}-{time.time_ns()}"})
                    for i in range(min(options.batch, count - start))
                ]
                began = time.perf_counter()
                customers_create_bulk(actor=admin, rows=rows)
                times.append((time.perf_counter() - began) * 1000)
            return times

        def emit(count: int) -> list[float]:
            # customer.updated of existing customers, one commit per batch: the webhook path
            # alone (creating customers also queues the analytics app's score jobs, which then
            # share the worker with the deliveries)
            ids = list(Customer.objects.order_by("-id").values_list("id", flat=True)[:count])
            times = []
            for start in range(0, count, options.batch):
                began = time.perf_counter()
                with transaction.atomic():
                    events.emit_many("customer.updated", ids[start : start + options.batch])
                times.append((time.perf_counter() - began) * 1000)
            return times

        wait_http(base + "/accounts/login/")
        write(options.batch, "探测")  # the customer the probe reads
        probe = Probe(base, token, Customer.objects.order_by("-id").values_list("id", flat=True)[0])
        probe.start()

        # 1. baseline: probing, and a few batches written, no webhook
        time.sleep(2)
        probe.take()
        baseline_writes = write(options.batch * 10, "基线")
        time.sleep(options.probe)
        results["baseline"] = summary(probe.take())
        results["baseline"]["write_batch_p50_ms"] = round(_p(baseline_writes, 0.5), 1)

        # 2. load
        hook = webhooks.webhook_create(
            actor=admin,
            data={
                "name": "bench",
                "url": receiver.url,
                "events": ["customer.created", "customer.updated"],
                "run_as": admin.pk,
            },
        )
        receiver.secret = hook.secret
        started = time.monotonic()
        if options.source == "create":
            load_writes = write(options.events, "推送")
        else:
            load_writes = emit(options.events)
        written = time.monotonic()
        # 3. drain (probe keeps running)
        expected = options.events
        deadline = started + options.timeout
        while time.monotonic() < deadline:
            with receiver.lock:
                if receiver.count >= expected:
                    break
            time.sleep(0.5)
        results["during"] = summary(probe.take())
        results["during"]["write_batch_p50_ms"] = round(_p(load_writes, 0.5), 1)
        results["during"]["write_batch_p95_ms"] = round(_p(load_writes, 0.95), 1)
        probe.running = False
        elapsed = (receiver.last or time.monotonic()) - started
        results.update(
            received=receiver.count,
            distinct_event_ids=len(receiver.ids),
            bad_signatures=receiver.bad,
            write_seconds=round(written - started, 1),
            delivery_seconds=round(elapsed, 1),
            delivered_per_second=round(receiver.count / elapsed, 1) if elapsed else None,
            delivered_in_db=WebhookDelivery.objects.filter(
                subscription=hook, status="delivered"
            ).count(),
            failed_in_db=WebhookDelivery.objects.filter(subscription=hook, status="failed").count(),
            probe_cycles=probe.n,
            probe_errors=len(probe.errors),
            probe_first_error=probe.errors[0] if probe.errors else "",
            database=os.environ.get("KEHU_DATABASE_URL", "sqlite"),
        )
    finally:
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        receiver.server.shutdown()
    text = json.dumps(results, ensure_ascii=False, indent=2)
    print(text)
    if options.json:
        with open(options.json, "w", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
