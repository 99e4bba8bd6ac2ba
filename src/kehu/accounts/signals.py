"""Sign-ins into the audit trail: success, failure and lockout.

Django sends ``user_logged_in`` / ``user_login_failed`` for the sign-in form (API tokens are
no sign-in: they are audited when created and revoked); django-axes sends
``user_locked_out`` for an attempt it refuses. A failed attempt names the username tried
(``actor_name``), never the password.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed

from kehu.core import audit


def _signed_in(sender: Any, request: Any = None, user: Any = None, **_kwargs: Any) -> None:
    audit.record("auth.sign_in", actor=user, target=user)


def _sign_in_failed(sender: Any, credentials: Any = None, **_kwargs: Any) -> None:
    username = str((credentials or {}).get("username") or "")
    audit.record("auth.sign_in_failed", actor_name=username)


def _locked_out(sender: Any, username: Any = None, **_kwargs: Any) -> None:
    audit.record("auth.locked_out", actor_name=str(username or ""))


def connect() -> None:
    user_logged_in.connect(_signed_in, dispatch_uid="kehu.audit.sign_in")
    user_login_failed.connect(_sign_in_failed, dispatch_uid="kehu.audit.sign_in_failed")
    user_locked_out.connect(_locked_out, dispatch_uid="kehu.audit.locked_out")
