"""Write helpers every domain service uses."""

from __future__ import annotations

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


def validate(instance: models.Model, *, exclude: list[str] | None = None) -> None:
    """full_clean() that reports as InvalidInput with per-field messages.

    ``full_clean`` skips empty values of ``blank=True`` fields, ``None`` among them, so a
    ``null`` sent for a NOT NULL text column (``{"description": null}``) passed it and failed
    as an IntegrityError; such a ``None`` is a field error here.
    """
    nulls = {
        field.name: [str(field.error_messages["null"])]
        for field in instance._meta.concrete_fields
        if field.blank
        and field.editable
        and not field.null
        and not field.primary_key
        and field.name not in (exclude or ())
        and getattr(instance, field.attname) is None
    }
    if nulls:
        raise InvalidInput(next(iter(nulls.values()))[0], errors=nulls)
    try:
        instance.full_clean(exclude=exclude, validate_unique=True)
    except ValidationError as error:
        raise invalid_input_from(error) from error


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
