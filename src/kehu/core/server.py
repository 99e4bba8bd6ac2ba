"""Run the WSGI app under gunicorn, in this process (``kehu serve``)."""

from __future__ import annotations

import gc
import multiprocessing
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.servers.basehttp import get_internal_wsgi_application
from gunicorn.app.base import BaseApplication


class KehuServer(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return get_internal_wsgi_application()  # settings.WSGI_APPLICATION


def freeze_loaded_code(worker: Any) -> None:
    """Load the URLconf (every view and API router) and move what is loaded out of the
    garbage collector's reach (``gc.freeze``).

    A worker tracks ~160,000 objects once Django and Kehu are imported; each full collection
    walked all of them: 86 ms pauses, which stalled whatever request the worker was serving
    (the API lists' p99 at c=1 was 50–75 ms against a p95 of 12 ms). Frozen, a full collection
    scans only the objects of requests: 1.5 ms (bench/RESULTS.md, 2026-12-06 d).
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf now, not on the first request
    gc.freeze()


# A Unix socket path holds at most 108 bytes on Linux (107 and the terminating NUL).
SOCKET_PATH_MAX = 107


def control_socket_options(data_dir: Path, port: int) -> dict[str, Any]:
    """gunicorn's control socket (for ``gunicornc``) under the data dir, one per port.

    gunicorn's default is ``$XDG_RUNTIME_DIR`` or ``~/.gunicorn/``: outside the data dir, so two
    Kehu instances of one user shared it and a service account without a home failed. A data dir
    too deep for a socket path runs without the control socket rather than not at all.
    """
    path = data_dir / "run" / f"gunicorn-{port}.ctl"
    if len(str(path).encode()) > SOCKET_PATH_MAX:
        return {"control_socket_disable": True}
    path.parent.mkdir(parents=True, exist_ok=True)
    return {"control_socket": str(path)}


def run_gunicorn(*, host: str, port: int, workers: int | None = None) -> None:
    count = workers or min(4, multiprocessing.cpu_count() * 2)
    KehuServer(
        {
            **control_socket_options(Path(settings.DATA_DIR), port),
            "bind": f"{host}:{port}",
            "workers": count,
            "threads": 4,
            "worker_class": "gthread",
            "timeout": 60,
            "accesslog": "-",
            "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
            "post_worker_init": freeze_loaded_code,
        }
    ).run()
