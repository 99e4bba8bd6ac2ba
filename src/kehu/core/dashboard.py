"""Dashboard panels contributed by the domain apps (each registers in its AppConfig.ready)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict[str, Any]
    order: int = 100


PanelBuilder = Callable[[HttpRequest], Panel | None]
_builders: list[PanelBuilder] = []


def register(builder: PanelBuilder) -> PanelBuilder:
    if builder not in _builders:
        _builders.append(builder)
    return builder


def panels_for(request: HttpRequest) -> list[Panel]:
    panels = [panel for builder in _builders if (panel := builder(request)) is not None]
    return sorted(panels, key=lambda panel: panel.order)
