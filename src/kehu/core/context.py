"""Who and what is acting right now: the request id that ties history rows to one request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("kehu_request_id", default="")


def new_request_id(kind: str = "req") -> str:
    return f"{kind}-{uuid.uuid4().hex[:16]}"


def current_request_id() -> str:
    return _request_id.get()


@contextmanager
def acting_context(request_id: str) -> Iterator[str]:
    """Run a block (a request, a CLI command, a job) under one request id."""
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)
