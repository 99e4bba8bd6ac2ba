"""Template tags of the pipeline pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from kehu.core import formatting
from kehu.opportunities import services

register = template.Library()


@register.filter
def may_create_opportunity(user: Any) -> bool:
    """The "New opportunity" button: shown to the roles the service lets create one."""
    return bool(user.is_authenticated) and services.opportunity_may_create(user)


@register.simple_tag(takes_context=True)
def deal_amount(
    context: template.Context,
    value: Decimal | None,
    visible: bool,
    currency: str | None = None,
    short: bool = False,
) -> SafeString | str:
    """A deal's amount (``kehu.core.formatting.money``), or *** where the user may not see it;
    ``short`` (board cards) in the user's 元/万元 unit, rounded to the yuan.

    A tag rather than an included template: the board shows up to 180 cards, and an include
    per card was a fifth of the page's rendering.
    """
    if not visible:
        title = _("Only the deal's owner and the managers of its department see its amount.")
        return format_html('<span class="text-body-secondary" title="{}">***</span>', title)
    if short:
        unit = formatting.money_unit_of(context.get("user"))
        return formatting.money(value, currency, unit=unit, cents=False)
    return formatting.money(value, currency)
