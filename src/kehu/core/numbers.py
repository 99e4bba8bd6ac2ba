"""Whole numbers from paths, query strings and forms, bounded before they reach a query.

SQLite and PostgreSQL integers are 64-bit: ``offset=9999999999999999999999`` or
``?page=99999999999999999999`` overflowed in the database (a 500). No id, offset or page of
Kehu comes near ``MAX_INT``; a larger value is an input error (422) or no such record (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from pydantic import Field

MAX_INT = 2**31 - 1


def whole_number(value: Any, *, maximum: int = MAX_INT) -> int | None:
    """``value`` (a form's or query string's text) as an int in ``0..maximum``, else None."""
    text = value.strip() if isinstance(value, str) else str(value if value is not None else "")
    if not text or not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
        return None
    number = int(text)
    return number if number <= maximum else None


def id_or_404(value: Any) -> int:
    """A posted or queried record id; anything else names no record: 404."""
    number = whole_number(value)
    if number is None:
        raise Http404("not an id")
    return number


def posted_version(request: HttpRequest, missing: int = 0) -> int:
    """The ``version`` a form posts for the optimistic lock. Missing (``missing``: 0 by default,
    which no record has, so the write is refused as stale) or not a number (-1: stale too)."""
    raw = request.POST.get("version")
    if raw is None or raw == "":
        return missing
    number = whole_number(raw)
    return -1 if number is None else number


# A whole number of a schema or list filter that reaches a query as an id or an offset (a list
# of them becomes ``IN (…)``, which Django does not guard against overflow as it does ``=``).
Id = Annotated[int, Field(ge=0, le=MAX_INT)]


class IdsChoiceField(forms.ModelMultipleChoiceField):
    """``ModelMultipleChoiceField`` over integer keys that refuses a value out of range as it
    refuses any unknown choice, before its ``IN (…)`` query overflows."""

    def _check_values(self, value: Any) -> Any:
        for pk in value if isinstance(value, list | tuple) else ():
            if whole_number(pk) is None:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)  # type: ignore[misc]
