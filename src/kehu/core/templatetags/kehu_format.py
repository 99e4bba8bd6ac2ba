"""Template filters of ``kehu.core.formatting``: ``{% load kehu_format %}``.

``{{ amount|money }}`` / ``{{ amount|money:currency }}`` in tables, ``{% money_short amount %}``
where space is short (the user's 元 / 万元 choice), ``{{ p|percent }}``, ``{{ d|iso_date }}``,
``{{ d|day_label }}``, ``{{ n|number }}``.
"""

from __future__ import annotations

from datetime import date, datetime

from django import template

from kehu.core import formatting

register = template.Library()


@register.filter
def money(value: object, currency: str | None = None) -> str:
    return formatting.money(value, currency or formatting.HOME_CURRENCY)


@register.simple_tag(takes_context=True)
def money_short(context: template.Context, value: object, currency: str | None = None) -> str:
    """An amount in the signed-in user's unit for short places (2,171.6万 or ¥21,716,000)."""
    unit = formatting.money_unit_of(context.get("user"))
    return formatting.money(value, currency or formatting.HOME_CURRENCY, unit=unit, cents=False)


@register.filter
def number(value: object) -> str:
    return formatting.number(value)


@register.filter
def percent(value: object) -> str:
    return formatting.percent(value)


@register.filter
def iso_date(value: date | datetime | None) -> str:
    return formatting.iso_date(value)


@register.filter
def day_label(value: date | datetime | None) -> str:
    return formatting.day_label(value)
