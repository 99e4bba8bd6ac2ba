"""Real local servers for delivery tests: an SMTP server (aiosmtpd) and a robot webhook server."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller
from django.test import override_settings

from kehu.notifications.channels import dingtalk_signature, feishu_signature


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


# aiosmtpd's session log: its INFO lines ("EOF received") come from the server's thread and
# could arrive after pytest had closed the test's captured output ("--- Logging error ---").
SMTP_LOG = logging.getLogger("mail.log")


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    level = SMTP_LOG.level
    SMTP_LOG.setLevel(logging.WARNING)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
        SMTP_LOG.setLevel(level)


@dataclass
class RobotLog:
    secret: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0


@contextmanager
def robot_server(secret: str = "") -> Iterator[tuple[RobotLog, str]]:
    """Answers like the DingTalk / WeCom / Feishu robots and checks the signatures."""
    log = RobotLog(secret=secret)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length) or b"{}")
            url = urlparse(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            log.requests.append({"path": url.path, "query": query, "json": payload})
            if log.fail_next > 0:
                log.fail_next -= 1
                self._answer(503, {"errcode": -1, "errmsg": "busy"})
                return
            if url.path.startswith("/dingtalk"):
                expected = dingtalk_signature(log.secret, int(query.get("timestamp", "0")))
                if query.get("sign") != expected:
                    self._answer(200, {"errcode": 310000, "errmsg": "sign not match"})
                    return
                self._answer(200, {"errcode": 0, "errmsg": "ok"})
            elif url.path.startswith("/feishu"):
                expected = feishu_signature(log.secret, int(payload.get("timestamp", "0")))
                if payload.get("sign") != expected:
                    self._answer(200, {"code": 19021, "msg": "sign match fail"})
                    return
                self._answer(200, {"code": 0, "msg": "success"})
            else:
                self._answer(200, {"errcode": 0, "errmsg": "ok"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # A receiver on loopback is what KEHU_ALLOW_PRIVATE_WEBHOOKS is for (core.outbound).
        with override_settings(ALLOW_PRIVATE_WEBHOOKS=True):
            yield log, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
