"""Tables other apps add under the sales forecast (collected vs expected payments…).

``register(builder)`` from ``AppConfig.ready()``; ``builder(user, start, end)`` returns the
table's context with its ``template`` (the template reads the context as ``data``), or
``None`` when it has nothing for this user. It reads in the user's scope, in a fixed number of
queries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

ForecastSection = Callable[[Any, date, date], dict[str, Any] | None]

_builders: list[ForecastSection] = []


def register(builder: ForecastSection) -> ForecastSection:
    if builder not in _builders:
        _builders.append(builder)
    return builder


def rendered_for(user: Any, start: date, end: date) -> list[dict[str, Any]]:
    return [data for builder in _builders if (data := builder(user, start, end)) is not None]
