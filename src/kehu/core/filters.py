"""One shape for every list's filters: a Pydantic model the page and the API build alike.

A list declares ``<Entity>Filters(ListFilters)`` with typed fields, validators whose messages
are the per-field errors, and ``apply(queryset, ...)``. The API takes it as query parameters
(``Query[<Entity>Filters]``) or, where the list answers its own error body, parses the query
string with ``parse``; the page builds it with ``from_querydict(request.GET)`` and shows the
messages of ``invalid_input``; links carry ``as_query()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self, get_args, get_origin

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from kehu.core import custom_fields
from kehu.core.errors import InvalidInput


class ListFilters(BaseModel):
    """Search and filters of one list, shared by its page, its API and its saved links."""

    model_config = ConfigDict(extra="ignore")

    # Fields that shape the list without narrowing it (``sort``): ``is_active`` ignores them.
    not_narrowing: ClassVar[frozenset[str]] = frozenset()
    # The ``detail`` of the ``InvalidInput`` that ``parse`` raises.
    invalid_detail: ClassVar[Any] = _("Check the filters.")

    @classmethod
    def list_fields(cls) -> frozenset[str]:
        """The fields whose query parameter repeats (``?tags=1&tags=2``)."""
        return frozenset(
            name
            for name, field in cls.model_fields.items()
            if get_origin(field.annotation) in (list, tuple, set)
            or any(get_origin(arg) in (list, tuple, set) for arg in get_args(field.annotation))
        )

    @classmethod
    def from_querydict(cls, query: QueryDict | Mapping[str, Any]) -> Self:
        """From a query string (``request.GET``): empty values are dropped, the last value of a
        repeated key counts, list fields take them all. A bad value raises ``ValidationError``."""
        repeated = cls.list_fields()
        data: dict[str, Any] = {}
        for key in query:
            values = [v for v in _values(query, key) if v != "" and v is not None]
            if not values:
                continue
            data[key] = values if key in repeated else values[-1]
        return cls.model_validate(data)

    @classmethod
    def parse(cls, query: QueryDict | Mapping[str, Any]) -> Self:
        """``from_querydict`` for callers that answer a bad value with ``InvalidInput``."""
        try:
            return cls.from_querydict(query)
        except ValidationError as error:
            raise invalid_input(error, detail=cls.invalid_detail) from error

    def apply(self, queryset: QuerySet[Any], *args: Any, **kwargs: Any) -> QuerySet[Any]:
        """``queryset`` (already scoped to the user) narrowed by these filters."""
        raise NotImplementedError(f"{type(self).__name__} does not apply itself")

    def is_active(self) -> bool:
        """True when any filter narrows the list (a sort alone does not)."""
        return any(
            getattr(self, name) != field.get_default(call_default_factory=True)
            for name, field in type(self).model_fields.items()
            if name not in self.not_narrowing
        )

    def as_query(self) -> dict[str, Any]:
        """The filters that differ from their defaults, as query-string values for links
        (``urlencode(..., doseq=True)`` for list fields). Fields render as their JSON form,
        so a ``field_serializer`` changes how one reads in a link."""
        dumped = self.model_dump(mode="json")
        query: dict[str, Any] = {}
        for name, field in type(self).model_fields.items():
            if getattr(self, name) == field.get_default(call_default_factory=True):
                continue
            query[name] = _query_value(dumped[name])
        return {name: value for name, value in query.items() if value not in ("", [])}


class CustomFieldFilters(ListFilters):
    """``ListFilters`` of a list whose records carry custom fields (``custom_kind``): ``cf``
    filters (``<key>:<value>`` each, filterable fields) and ``columns`` (the custom fields
    shown as list columns, by key). The page's inputs ``cf_<key>=<value>`` read as ``cf``."""

    custom_kind: ClassVar[str] = ""

    cf: list[str] = []  # custom fields: "<key>:<value>" each (自定义字段, filterable ones)
    columns: list[str] = []  # custom fields shown as list columns, by key

    @model_validator(mode="before")
    @classmethod
    def _custom_inputs(cls, data: Any) -> Any:
        """The list page's inputs ``cf_<key>=<value>`` as ``cf`` entries ``<key>:<value>``."""
        if not isinstance(data, dict):
            return data
        inputs = {k: v for k, v in data.items() if isinstance(k, str) and k.startswith("cf_")}
        if not inputs:
            return data
        data = {k: v for k, v in data.items() if k not in inputs}
        chosen = data.get("cf") or []
        chosen = [chosen] if isinstance(chosen, str) else list(chosen)
        for name, value in inputs.items():
            for item in value if isinstance(value, list) else [value]:
                if item not in ("", None):
                    chosen.append(f"{name.removeprefix('cf_')}:{item}")
        data["cf"] = chosen
        return data

    @field_validator("columns")
    @classmethod
    def _columns(cls, values: list[str]) -> list[str]:
        keys = {spec.key for spec in custom_fields.fields_for(cls.custom_kind)}
        return [value for value in values if value in keys][:20]

    @field_validator("cf")
    @classmethod
    def _custom(cls, values: list[str]) -> list[str]:
        for value in values:
            custom_fields.parse_filter(cls.custom_kind, value)
        return values

    def apply_custom(self, queryset: QuerySet[Any], user: Any = None) -> QuerySet[Any]:
        """``queryset`` narrowed by the ``cf`` filters; ``user``'s roles decide which custom
        fields they may filter on (another one answers ``InvalidInput`` on ``cf``)."""
        for raw in self.cf:
            try:
                spec, value = custom_fields.parse_filter(self.custom_kind, raw, user)
            except ValueError as error:
                raise InvalidInput(errors={"cf": [str(error)]}) from error
            queryset = queryset.filter(custom_fields.filter_q(spec, value))
        return queryset


def invalid_input(error: ValidationError, *, detail: Any = None) -> InvalidInput:
    """A Pydantic validation failure as ``InvalidInput``: per field, the messages validators
    raised (``ValueError("Enter a whole number.")`` reads so, without Pydantic's prefix)."""
    errors: dict[str, list[str]] = {}
    for item in error.errors():
        name = ".".join(str(part) for part in item.get("loc", ())) or "__all__"
        errors.setdefault(name, []).append(error_text(item))
    return InvalidInput(detail, errors=errors)


def refused_filters(error: ValidationError, labels: Mapping[str, Any]) -> str:
    """A list page's words for the filters its query string gave and its filters refused:
    each named by its label (``labels``: filter name → label), with a validator's own
    (translated) words where it said any; Pydantic's type errors are not translated, so
    those filters show their label alone."""
    problems: dict[str, list[str]] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item.get("loc") else ""
        said = [error_text(item)] if item.get("type") == "value_error" else []
        problems.setdefault(name, []).extend(said)
    return named_problems(problems, labels)


def named_problems(problems: Mapping[str, Iterable[Any]], labels: Mapping[str, Any]) -> str:
    """``problems`` (filter name → messages) as one line: ``label: messages; label``."""
    shown = []
    for name, said in problems.items():
        words = " ".join(map(str, said))
        label = str(labels.get(name, name))
        shown.append(f"{label}: {words}" if words else label)
    return "; ".join(shown)


def error_text(item: Mapping[str, Any]) -> str:
    """The message of one Pydantic error: a validator's own words, else Pydantic's."""
    raised = (item.get("ctx") or {}).get("error")
    if item.get("type") == "value_error" and raised is not None:
        return str(raised)
    return str(item.get("msg", ""))


def _values(query: QueryDict | Mapping[str, Any], key: str) -> list[Any]:
    if isinstance(query, QueryDict):
        return query.getlist(key)
    value = query[key]
    return list(value) if isinstance(value, list | tuple) else [value]


def _query_value(value: Any) -> Any:
    if value is True:
        return "1"
    if value is False or value is None:
        return ""
    if isinstance(value, list):
        return [_query_value(item) for item in value]
    return str(value)
