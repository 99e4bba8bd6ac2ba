"""Write helpers every domain service uses."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from kehu.core.errors import InvalidInput, StaleVersion
from kehu.core.models import VersionedModel


def check_version(instance: VersionedModel, expected: int | None) -> None:
    """Refuse a write based on an old copy of the record (optimistic locking).

    Callers lock the row first (``select_for_update``) so two writers cannot both pass.
    """
    if expected is not None and expected != instance.version:
        raise StaleVersion(extra={"current_version": instance.version})


def bump_version(instance: VersionedModel) -> None:
    instance.version += 1


def validate(instance: models.Model, *, exclude: Collection[str] | None = None) -> None:
    """full_clean() that reports as InvalidInput with per-field messages.

    ``full_clean`` skips empty values of ``blank=True`` fields, ``None`` among them, so a
    ``null`` sent for a NOT NULL text column (``{"description": null}``) passed it and failed
    as an IntegrityError; such a ``None`` is a field error here.
    """
    skipped = frozenset(exclude or ())
    nulls = {
        field.name: [str(field.error_messages["null"])]
        for field in _nullable_checks(type(instance))
        if field.name not in skipped and getattr(instance, field.attname) is None
    }
    if nulls:
        raise InvalidInput(next(iter(nulls.values()))[0], errors=nulls)
    try:
        instance.full_clean(exclude=exclude, validate_unique=True)
    except ValidationError as error:
        raise invalid_input_from(error) from error


@cache
def _nullable_checks(model: type[models.Model]) -> tuple[models.Field[Any, Any], ...]:
    """The fields ``validate`` checks for a ``None``: blank, editable, NOT NULL, not the key."""
    return tuple(
        field
        for field in model._meta.concrete_fields
        if field.blank and field.editable and not field.null and not field.primary_key
    )


def validate_values(model: type[models.Model], values: Mapping[str, Any]) -> dict[str, Any]:
    """``validate`` of a new ``model`` instance holding ``values`` (by field name) and the
    defaults elsewhere, without building the instance: the same null check and field checks
    (``full_clean``'s ``clean_fields``), in the same order with the same messages; answers
    the cleaned values. The defaults pass those checks by construction, so they are not
    checked again. For models whose ``full_clean`` checks nothing more for a new row (no
    ``clean``, no constraints, no unique field but the primary key): a batch checks rows its
    own cleaning made (``customers.customer_prepare``'s contacts)."""
    checks = _value_checks(model)
    unknown = set(values) - {name for name, _field in checks}
    if unknown:
        raise ValueError(f"validate_values checks no field {sorted(unknown)} of {model.__name__}")
    errors: dict[str, list[Any]] = {}
    nulls: dict[str, list[str]] = {}
    cleaned = dict(values)
    for name, field in checks:
        if name not in values:
            continue
        raw = values[name]
        if raw is None and field.blank and field.editable and not field.null:
            nulls[name] = [str(field.error_messages["null"])]
            continue
        if field.blank and raw in field.empty_values:
            continue
        try:
            cleaned[name] = field.clean(raw, None)
        except ValidationError as error:
            errors[name] = error.error_list
    if nulls:
        raise InvalidInput(next(iter(nulls.values()))[0], errors=nulls)
    if errors:
        raise invalid_input_from(ValidationError(errors))
    return cleaned


@cache
def _value_checks(model: type[models.Model]) -> list[tuple[str, models.Field[Any, Any]]]:
    meta = model._meta
    if (
        model.clean is not models.Model.clean
        or meta.constraints
        or meta.unique_together
        or any(f.unique and not f.primary_key for f in meta.concrete_fields)
    ):
        raise ValueError(f"validate_values does not check all of {model.__name__}'s rules")
    return [
        (f.name, f)
        for f in meta.fields
        if not f.primary_key and not f.is_relation and not f.generated
    ]


def invalid_input_from(error: ValidationError) -> InvalidInput:
    if hasattr(error, "error_dict"):
        errors = {name: [str(m) for m in messages] for name, messages in error.message_dict.items()}
    else:
        errors = {"__all__": [str(m) for m in error.messages]}
    first = next(iter(errors.values()))[0] if errors else ""
    return InvalidInput(first, errors=errors)


def apply_changes(instance: models.Model, changes: dict[str, Any], allowed: set[str]) -> set[str]:
    """Set the allowed fields of ``changes`` on the instance; return the names that changed."""
    changed: set[str] = set()
    for name, value in changes.items():
        if name not in allowed:
            raise InvalidInput(errors={name: [_("This field cannot be changed here.")]})
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.add(name)
    return changed
