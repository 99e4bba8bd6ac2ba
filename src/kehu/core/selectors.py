"""Generic reads shared by every app: a record's change history, scoped like the record."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models
from django.http import Http404

from kehu.core.access import get_visible_or_404, is_admin, policy_of
from kehu.core.history import HistoryEntry, history_entries


def record_for_history(*, user: Any, model_label: str, object_id: int) -> models.Model:
    """The record whose history ``user`` asked for, or 404 when it is out of their scope.

    Records without an access policy (departments, users, settings) are admin-only.
    """
    try:
        model = apps.get_model(model_label)
    except (LookupError, ValueError) as unknown:
        raise Http404(model_label) from unknown
    if not hasattr(model, "history"):
        raise Http404(model_label)
    if getattr(model, "access_policy", None) is not None:
        return get_visible_or_404(model._default_manager.all(), user, pk=object_id)
    if not is_admin(user):
        raise Http404(model_label)
    try:
        return model._default_manager.get(pk=object_id)
    except model.DoesNotExist as missing:
        raise Http404(model_label) from missing


def record_history(*, user: Any, record: models.Model) -> list[HistoryEntry]:
    hidden: frozenset[str] = frozenset()
    if getattr(type(record), "access_policy", None) is not None:
        policy = policy_of(record)
        hidden = policy.masked_fields(user, record)
        if policy.contact_fields and not policy.has_full_access(user, record):
            hidden |= frozenset(policy.contact_fields)
    return history_entries(record.history.all(), hidden_fields=hidden, user=user)  # type: ignore[attr-defined]
