from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps


@pytest.fixture(autouse=True)
def _default_cadence_plans(request: pytest.FixtureRequest) -> None:
    """Transactional tests elsewhere flush the data migration's rows; put the defaults back."""
    if request.node.get_closest_marker("django_db") is None:
        return
    migration: Any = importlib.import_module("kehu.followups.migrations.0002_default_cadence_plans")
    migration.create_plans(apps, None)
