"""The shared list-filter base: query strings in, per-field errors out, links back."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import translation
from pydantic import ValidationError, field_validator

from kehu.core.errors import InvalidInput
from kehu.core.filters import ListFilters, invalid_input


class ThingFilters(ListFilters):
    not_narrowing = frozenset({"sort"})

    q: str = ""
    owner: int | None = None
    tags: list[int] = []
    since: date | None = None
    stalled: bool = False
    sort: str = "-id"

    @field_validator("q")
    @classmethod
    def _q(cls, value: str) -> str:
        if len(value) > 5:
            raise ValueError("Search for at most 5 characters.")
        return value.strip()

    def apply(self, queryset: QuerySet[Any], *args: Any, **kwargs: Any) -> QuerySet[Any]:
        return queryset


def test_from_querydict_drops_empty_values_and_repeats_only_list_fields() -> None:
    query = QueryDict("q=ab&owner=&owner=7&tags=1&tags=&tags=3&since=2026-01-02&unknown=x")
    filters = ThingFilters.from_querydict(query)
    assert filters == ThingFilters(q="ab", owner=7, tags=[1, 3], since=date(2026, 1, 2))
    assert ThingFilters.from_querydict({"owner": "3", "tags": ["4"]}).tags == [4]


def test_parse_answers_each_bad_field_with_its_own_message() -> None:
    with translation.override("en"), pytest.raises(InvalidInput) as raised:
        ThingFilters.parse(QueryDict("q=toolong&owner=x&since=2026-13-01"))
    error = raised.value
    assert error.status == 422
    assert error.payload()["detail"] == "Check the filters."
    assert set(error.errors) == {"q", "owner", "since"}
    # a validator's message reads as written, without Pydantic's "Value error, " prefix
    assert error.errors["q"] == ["Search for at most 5 characters."]
    assert error.errors["owner"][0].startswith("Input should be a valid integer")


def test_invalid_input_keeps_the_callers_detail_and_list_positions() -> None:
    with pytest.raises(ValidationError) as raised:
        ThingFilters.from_querydict(QueryDict("tags=1&tags=x"))
    error = invalid_input(raised.value, detail="Nope.")
    assert error.detail == "Nope."
    assert list(error.errors) == ["tags.1"]


def test_is_active_ignores_fields_that_do_not_narrow() -> None:
    assert not ThingFilters().is_active()
    assert not ThingFilters(sort="name").is_active()
    assert ThingFilters(stalled=True).is_active()
    assert ThingFilters(tags=[2]).is_active()


def test_as_query_round_trips_through_a_link() -> None:
    filters = ThingFilters(q="ab", tags=[1, 3], since=date(2026, 1, 2), stalled=True)
    query = filters.as_query()
    assert query == {"q": "ab", "tags": ["1", "3"], "since": "2026-01-02", "stalled": "1"}
    link = QueryDict(urlencode(query, doseq=True))
    assert ThingFilters.from_querydict(link) == filters
    assert ThingFilters().as_query() == {}


def test_the_base_does_not_pretend_to_filter() -> None:
    class Bare(ListFilters):
        q: str = ""

    with pytest.raises(NotImplementedError):
        Bare().apply(QuerySet())
