"""Who may reach each webhooks URL and API operation (the three-way table of
``kehu.core.testing.permissions``)."""

from __future__ import annotations

from kehu.core.testing.permissions import Endpoint

TABLE: list[Endpoint] = []
