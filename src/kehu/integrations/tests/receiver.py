"""A real local HTTP receiver for webhook tests: it verifies each delivery's signature as the
documented snippet does (docs/integration.md, "Webhooks") and answers as told."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify(secret: str, headers: Any, body: bytes, *, tolerance: int = 300) -> bool:
    """The receiver's check: HMAC-SHA256 of ``timestamp.body``, compared in constant time, and
    a timestamp no older than ``tolerance`` seconds (replays)."""
    timestamp = headers.get("X-Kehu-Timestamp", "")
    signature = headers.get("X-Kehu-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("v1=" + expected.hexdigest(), signature)


@dataclass
class Received:
    secret: str = ""
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # next answers' status codes, then 200
    delay: float = 0.0  # seconds to wait before answering (timeouts)

    @property
    def events(self) -> list[str]:
        return [item["json"]["event"] for item in self.deliveries]


@contextmanager
def webhook_receiver(secret: str = "") -> Iterator[tuple[Received, str]]:
    received = Received(secret=secret)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if received.delay:
                time.sleep(received.delay)
            received.deliveries.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "json": json.loads(body),
                    "verified": verify(received.secret, self.headers, body),
                }
            )
            status = received.answers.pop(0) if received.answers else 200
            if status == 200 and not received.deliveries[-1]["verified"]:
                status = 401
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            with contextlib.suppress(OSError):  # the sender gave up (timeout)
                self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}/hooks/kehu"
    finally:
        server.shutdown()
        server.server_close()
