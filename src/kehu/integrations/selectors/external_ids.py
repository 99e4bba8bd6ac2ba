"""Reads of external ids: a record by the id another system gives it, a record's ids."""

from __future__ import annotations

from typing import Any

from kehu.accounts.models import User
from kehu.core.errors import NotFound
from kehu.integrations.models import ExternalId
from kehu.integrations.services.external_ids import KINDS, clean_reference


def external_get(*, actor: User, kind: str, system: str, external_id: str) -> Any:
    """The caller's record that ``system`` calls ``external_id``; 404 when there is none or it
    lies outside the caller's scope."""
    system, external_id = clean_reference(system, external_id)
    mapping = ExternalId.objects.filter(kind=kind, system=system, external_id=external_id).first()
    if mapping is None:
        raise NotFound("external id")
    record = KINDS[kind].visible(actor).filter(pk=mapping.object_id).first()
    if record is None:
        raise NotFound(KINDS[kind].not_found)
    return record


def external_ids_of(kind: str, object_id: int) -> list[ExternalId]:
    """The ids other systems give one record (the caller checked the record's scope)."""
    return list(ExternalId.objects.filter(kind=kind, object_id=object_id).order_by("system"))
