"""Integration with other systems: outbound webhooks and external ids (ERP sync)."""

from __future__ import annotations
