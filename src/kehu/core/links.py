"""Absolute links: every link that leaves the browser (e-mail, WeCom/DingTalk/Feishu robot
messages, calendar feeds, survey links, embed snippets) is ``absolute(path)``.

The address users reach Kehu at comes from the environment (``KEHU_BASE_URL``, read in
settings.py), else from the admin setting ``system.base_url``. With neither set, a request's
own address serves when there is a request (a calendar feed, an export); a job has none and
its links stay relative, which ``kehu serve`` warns about at start (``startup_warning``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kehu.core import config
from kehu.core.env import base_url_problem

log = logging.getLogger(__name__)

BASE_URL = config.define(
    "system.base_url",
    "",
    _("Address of Kehu for links in messages"),
    group="system",
    check=config.http_url_or_empty,
    help=_(
        "The address users open Kehu at, e.g. https://crm.example.cn. Links in e-mails, "
        "WeCom/DingTalk/Feishu messages, calendar feeds and survey e-mails start with it. "
        "The KEHU_BASE_URL environment variable, when set, takes precedence."
    ),
)


def base_url() -> str:
    """Kehu's public address without a trailing slash; ``""`` when none is configured.

    A setting that is not an http(s) address is ignored (and logged), so one bad value
    cannot put broken links into every message.
    """
    from_env = str(getattr(settings, "BASE_URL", "") or "")
    if from_env:
        return from_env
    value = str(config.get(BASE_URL.key) or "").strip()
    if not value:
        return ""
    if base_url_problem(value):
        log.warning("system.base_url %r is not an http(s) address; links stay relative", value)
        return ""
    return value.rstrip("/")


def base_url_source() -> str:
    """Where the address comes from: ``"environment"``, ``"setting"`` or ``""`` (unset)."""
    if getattr(settings, "BASE_URL", ""):
        return "environment"
    return "setting" if base_url() else ""


def absolute(path: str, *, request: HttpRequest | None = None) -> str:
    """``path`` (``/customers/12/``) as a link that works outside the browser.

    An absolute URL is returned unchanged. The configured address wins over the request's,
    since a request that came through a proxy may name an internal host.
    """
    if not path or "://" in path.split("?", 1)[0]:
        return path
    if not path.startswith("/"):
        path = "/" + path
    base = base_url()
    if base:
        return base + path
    if request is not None:
        return request.build_absolute_uri(path)
    return path


def startup_warning() -> str:
    """The warning ``kehu serve`` prints when links in messages would be relative."""
    if base_url():
        return ""
    return (
        "kehu serve: KEHU_BASE_URL is not set (nor the admin setting system.base_url): "
        "links in e-mails and robot messages will be relative and not clickable. "
        "Set KEHU_BASE_URL=https://your-crm-address."
    )
