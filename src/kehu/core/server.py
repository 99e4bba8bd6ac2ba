"""Run the WSGI app under gunicorn, in this process (``kehu serve``)."""

from __future__ import annotations

import multiprocessing
from typing import Any

from gunicorn.app.base import BaseApplication


class KehuServer(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from kehu.wsgi import application

        return application


def run_gunicorn(*, host: str, port: int, workers: int | None = None) -> None:
    count = workers or min(4, multiprocessing.cpu_count() * 2)
    KehuServer(
        {
            "bind": f"{host}:{port}",
            "workers": count,
            "threads": 4,
            "worker_class": "gthread",
            "timeout": 60,
            "accesslog": "-",
            "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
        }
    ).run()
