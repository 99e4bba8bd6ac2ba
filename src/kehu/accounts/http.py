"""The request type of signed-in views and API handlers: ``request.user`` is a Kehu ``User``."""

from __future__ import annotations

from kehu.accounts.models import User
from kehu.core.http import HtmxRequest


class AuthedRequest(HtmxRequest):
    """Views behind ``login_required`` and API routes behind an auth class take this type."""

    user: User
