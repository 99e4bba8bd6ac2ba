"""Lead events other apps follow, without the leads app importing them.

Apps register callbacks from ``AppConfig.ready()``:

- ``on_lead_captured(callback)``: ``callback(lead)`` after the commit of every capture (UI, API,
  web form, import); the campaigns app gives a lead captured through a form attached to a
  campaign that campaign (a member and a "lead captured" touch).
- ``on_lead_converted(callback)``: ``callback(lead)`` after the commit of a conversion, when
  ``lead.customer`` is set; the campaigns app gives the lead's touches and memberships the
  customer, so the customer's timeline and the deal attribution find them.

A rolled-back capture or conversion calls nothing. A callback that fails is the callback's
app's error: the lead is saved already.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction

LeadCallback = Callable[[Any], object]  # what it returns is not used

_captured: list[LeadCallback] = []
_converted: list[LeadCallback] = []


def on_lead_captured(callback: LeadCallback) -> None:
    if callback not in _captured:
        _captured.append(callback)


def on_lead_converted(callback: LeadCallback) -> None:
    if callback not in _converted:
        _converted.append(callback)


def _call(callbacks: list[LeadCallback], lead: Any) -> None:
    for callback in list(callbacks):
        callback(lead)


def lead_captured(lead: Any) -> None:
    """Called by ``lead_capture``; the callbacks run after the commit."""
    if _captured:
        transaction.on_commit(partial(_call, _captured, lead))


def lead_converted(lead: Any) -> None:
    """Called by ``lead_convert``; the callbacks run after the commit."""
    if _converted:
        transaction.on_commit(partial(_call, _converted, lead))
