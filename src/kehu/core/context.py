"""Who and what is acting right now: the request id that ties history rows to one request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_request_id: ContextVar[str] = ContextVar("kehu_request_id", default="")
_read_memo: ContextVar[dict[Any, Any] | None] = ContextVar("kehu_read_memo", default=None)
_client_ip: ContextVar[str] = ContextVar("kehu_client_ip", default="")


def new_request_id(kind: str = "req") -> str:
    return f"{kind}-{uuid.uuid4().hex[:16]}"


def current_request_id() -> str:
    return _request_id.get()


def current_client_ip() -> str:
    """The address the current web request came from ("" outside requests), for the audit."""
    return _client_ip.get()


@contextmanager
def acting_context(request_id: str, client_ip: str = "") -> Iterator[str]:
    """Run a block (a request, a CLI command, a job) under one request id."""
    token = _request_id.set(request_id)
    ip_token = _client_ip.set(client_ip)
    try:
        yield request_id
    finally:
        _client_ip.reset(ip_token)
        _request_id.reset(token)


def read_memo() -> dict[Any, Any] | None:
    """A per-request memo while a read-only (GET/HEAD) request runs, else None."""
    return _read_memo.get()


@contextmanager
def read_only_request() -> Iterator[dict[Any, Any]]:
    """Run a safe request: what it reads more than once (a user's share and pool grants, for
    each scoped model the page touches) may be read once, since nothing changes them meanwhile."""
    token = _read_memo.set({})
    try:
        yield _read_memo.get() or {}
    finally:
        _read_memo.reset(token)
