"""The permission table of the governance requests endpoints."""

from __future__ import annotations

from kehu.core.testing.permissions import Endpoint

TABLE: list[Endpoint] = []
