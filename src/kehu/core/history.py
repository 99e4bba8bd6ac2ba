"""The change-history core: every domain record keeps who/when/what/which request.

Models declare ``history = HistoricalRecords(bases=HISTORY_BASES)``; django-simple-history
stores one row per create/update/delete with a full snapshot, and this module adds the
request id, stamps the acting user outside web requests, and turns rows into field diffs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from simple_history.signals import pre_create_historical_record

from kehu.core import custom_fields
from kehu.core.context import current_request_id

HISTORY_LIMIT = 200


class RequestStampedHistory(models.Model):
    """Extra columns every historical table carries."""

    request_id = models.CharField(_("request"), max_length=40, blank=True, default="")

    class Meta:
        abstract = True


HISTORY_BASES: list[type[models.Model]] = [RequestStampedHistory]


@receiver(pre_create_historical_record)
def _stamp_request_id(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    if hasattr(history_instance, "request_id"):
        history_instance.request_id = current_request_id()


def stamp(instance: models.Model, *, actor: Any, reason: str = "") -> None:
    """Attribute the next save of ``instance`` to ``actor`` (jobs, CLI and API all call this)."""
    instance._history_user = actor  # type: ignore[attr-defined]
    if reason:
        instance._change_reason = reason  # type: ignore[attr-defined]


def bulk_stamp(*, actor: Any, date: datetime, action: str, reason: str | None) -> dict[str, Any]:
    """The history columns of rows written in bulk (``kehu.core.bulk_insert``), as ``stamp``
    and the request-id receiver give a saved one: ``action`` "+" created, "~" changed."""
    return {
        "history_date": date,
        "history_change_reason": reason,
        "history_type": action,
        "history_user_id": actor.pk,
        "request_id": current_request_id(),
    }


ACTION_LABELS = {"+": _("created"), "~": _("changed"), "-": _("deleted")}


@dataclass
class FieldChange:
    field: str
    label: str
    old: Any
    new: Any


@dataclass
class HistoryEntry:
    id: int
    when: datetime
    action: str
    action_label: str
    user_id: int | None
    user_name: str
    reason: str
    request_id: str
    changes: list[FieldChange] = field(default_factory=list)
    object_label: str = ""


def _display(model: type[models.Model], name: str, value: Any) -> Any:
    try:
        model_field = model._meta.get_field(name)
    except Exception:
        return value
    choices = getattr(model_field, "flatchoices", None)
    if choices and value is not None:
        return str(dict(choices).get(value, value))
    return value


def _record_of(row: Any, model: type[models.Model]) -> models.Model:
    """The record as of ``row``, built in memory for its label.

    simple-history's ``row.instance`` reads the fields a history leaves out (e.g. a contact's
    ``updated_at``) from the live table: one query per row of the history.
    """
    values = {
        field.attname: getattr(row, field.attname)
        for field in model._meta.concrete_fields
        if hasattr(row, field.attname)
    }
    return model(**values)


def _previous_versions(rows: list[Any]) -> dict[int, Any]:
    """Each historical row's previous version of the same record (by history id).

    Rows of several records come interleaved (a customer's contacts); a row must be diffed
    against its own record's earlier version, not the row before it in the list, which
    belongs to another contact (id, mobile, name "changed" where only a title did).
    """
    previous_of: dict[int, Any] = {}
    latest: dict[Any, Any] = {}
    for row in reversed(rows):  # oldest first
        record = getattr(row, row.instance_type._meta.pk.attname)
        if record in latest:
            previous_of[row.history_id] = latest[record]
        latest[record] = row
    return previous_of


def history_entries(
    historical_rows: models.QuerySet[Any],
    *,
    hidden_fields: frozenset[str] = frozenset(),
    user: Any = None,
) -> list[HistoryEntry]:
    """Turn a record's historical rows into entries with field-level diffs, newest first.

    One query for the rows (with their users); diffs are computed in memory between
    consecutive versions, so the cost does not grow with the number of fields.
    ``hidden_fields`` are left out of the diff for users who may not see them (masking).
    A change of the custom fields (``custom``) reads as one change per field, those ``user``
    may see, the sensitive ones left out when ``hidden_fields`` masks anything.
    """
    rows = list(
        historical_rows.select_related("history_user").order_by("-history_id")[:HISTORY_LIMIT]
    )
    previous_of = _previous_versions(rows)
    entries: list[HistoryEntry] = []
    for row in rows:
        previous = previous_of.get(row.history_id)
        model = row.instance_type
        changes: list[FieldChange] = []
        if previous is not None and row.history_type == "~":
            delta = row.diff_against(previous)
            for change in delta.changes:
                if change.field in hidden_fields or change.field == "version":
                    continue
                if change.field == "custom":
                    changes.extend(
                        FieldChange(field=name, label=label, old=old, new=new)
                        for name, label, old, new in custom_fields.history_changes(
                            model, change.old, change.new, user=user, masked=bool(hidden_fields)
                        )
                    )
                    continue
                model_field = model._meta.get_field(change.field)
                changes.append(
                    FieldChange(
                        field=change.field,
                        label=str(model_field.verbose_name),
                        old=_display(model, change.field, change.old),
                        new=_display(model, change.field, change.new),
                    )
                )
        user = row.history_user
        entries.append(
            HistoryEntry(
                id=row.history_id,
                when=row.history_date,
                action=row.history_type,
                action_label=str(ACTION_LABELS.get(row.history_type, row.history_type)),
                user_id=user.pk if user else None,
                user_name=str(user) if user else str(_("system")),
                reason=row.history_change_reason or "",
                request_id=getattr(row, "request_id", ""),
                changes=changes,
                object_label=f"{model._meta.verbose_name}: {_record_of(row, model)}",
            )
        )
    return entries
