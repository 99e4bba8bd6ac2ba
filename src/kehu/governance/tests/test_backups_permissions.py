"""The permission table of the governance backups endpoints."""

from __future__ import annotations

from kehu.core.testing.permissions import Endpoint

TABLE: list[Endpoint] = []
