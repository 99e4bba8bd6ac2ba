"""The audit trail: one append-only, hash-chained record of security-relevant actions.

Every app records through ``record()``: sign-ins, tokens, role changes, exports, reveals,
merges, bulk reassignments, offboarding, deletions, destructions, settings changes and admin
actions. The entry joins the caller's transaction, so an action that rolls back leaves no
entry. ``verify()`` recomputes the chain; ``kehu audit verify`` runs it.

Rules for callers: name the target by type and id; put no personal data (names, phones,
e-mails, free text typed about a person) into ``details``, since entries are never edited,
not even when that person's data is destroyed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from kehu.core.context import current_client_ip, current_request_id
from kehu.core.models import AuditChainHead, AuditEntry

GENESIS = "0" * 64
P = ParamSpec("P")
R = TypeVar("R")


def _canonical(entry: AuditEntry) -> bytes:
    fields = {
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "details": entry.details,
        "ip": entry.ip,
        "request_id": entry.request_id,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(
        fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder
    ).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _target(target: models.Model | tuple[str, Any] | None) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, tuple):
        return str(target[0]), str(target[1])
    return target._meta.label_lower, str(target.pk)


def record(
    action: str,
    *,
    actor: Any = None,
    target: models.Model | tuple[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    actor_name: str = "",
) -> AuditEntry:
    """Append one entry; ``action`` is a dotted name such as ``auth.sign_in_failed``.

    ``actor`` is the acting user (None for the system or an anonymous caller, then
    ``actor_name`` may say who was tried, e.g. the username of a failed sign-in).
    ``target`` is a model instance or ``(type, id)``.

    The chain's head row stays locked until the caller's transaction ends, so every other
    audited action waits meanwhile: record at the end of a long transaction's work.
    """
    target_type, target_id = _target(target)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    with transaction.atomic():
        head, _created = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        entry = AuditEntry(
            seq=head.seq + 1,
            at=timezone.now(),
            actor_id=actor.pk if authenticated else None,
            actor_name=(actor.get_username() if authenticated else actor_name)[:150],
            action=action[:60],
            target_type=target_type[:60],
            target_id=target_id[:64],
            details=json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder)),
            ip=current_client_ip()[:45],
            request_id=current_request_id(),
            prev_hash=head.hash or GENESIS,
        )
        entry.hash = entry_hash(entry)
        entry.save(force_insert=True)
        head.seq, head.hash = entry.seq, entry.hash
        head.save(update_fields=["seq", "hash"])
    return entry


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_bad_seq: int | None
    problem: str

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None and not self.problem


def _entries_from(seq: int) -> Iterator[AuditEntry]:
    return AuditEntry.objects.filter(seq__gt=seq).order_by("seq").iterator(chunk_size=2000)


def verify() -> VerifyResult:
    """Recompute the chain from its base; report the first entry that does not fit."""
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None:
        exists = AuditEntry.objects.exists()
        return VerifyResult(0, None, "entries without a chain head" if exists else "")
    expected_seq, expected_prev = head.base_seq, head.base_hash or GENESIS
    checked = 0
    for entry in _entries_from(head.base_seq):
        expected_seq += 1
        if entry.seq != expected_seq:
            return VerifyResult(checked, expected_seq, "an entry is missing")
        if entry.prev_hash != expected_prev or entry_hash(entry) != entry.hash:
            return VerifyResult(checked, entry.seq, "an entry was changed")
        expected_prev = entry.hash
        checked += 1
    if expected_seq != head.seq or expected_prev != (head.hash or GENESIS):
        return VerifyResult(checked, expected_seq + 1, "the newest entries are missing")
    return VerifyResult(checked, None, "")


def record_deletion(
    obj: models.Model, *, actor: Any, details: dict[str, Any] | None = None
) -> AuditEntry:
    """``<app>.<model>_deleted`` for ``obj``; call it before ``obj.delete()`` (which clears the
    pk), in the same transaction, so a delete that fails records nothing."""
    meta = obj._meta
    return record(
        f"{meta.app_label}.{meta.model_name}_deleted",
        actor=actor,
        target=(meta.label_lower, obj.pk),
        details=details,
    )


def audited(
    action: str, *, target: str = "", model: str = "", fields: str = "data"
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Record ``action`` each time the decorated service succeeds, in its transaction.

    The actor is the ``actor`` (or ``user``) keyword. The target is the keyword named by
    ``target`` — a model instance, or an id whose type ``model`` names (``"app.model"``) —
    read before the call, so a delete still names what it deleted; without ``target``, the
    service's result when that is a model instance. The keys (never the values) of the dict
    passed as ``fields`` (default ``data``) are recorded as the changed fields' names.
    """

    def decorate(service: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(service)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with transaction.atomic():
                named = kwargs.get(target) if target else None
                if isinstance(named, models.Model):
                    before: tuple[str, Any] | None = _target(named)
                elif named is not None and model:
                    before = (model, named)
                else:
                    before = None
                result = service(*args, **kwargs)
                if before is None and isinstance(result, models.Model):
                    before = _target(result)
                data = kwargs.get(fields)
                details = {"fields": sorted(map(str, data))} if isinstance(data, dict) else None
                record(
                    action,
                    actor=kwargs.get("actor", kwargs.get("user")),
                    target=before,
                    details=details,
                )
            return result

        wrapper.__dict__["audit_action"] = action  # tests list the audited services
        return wrapper

    return decorate


# --- retention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    deleted: int
    base_seq: int


def purge(before: datetime) -> PurgeResult:
    """Delete the entries recorded before ``before`` (the audit's own retention).

    Only the oldest entries go, a run of them from the chain's base: the base moves to the
    newest deleted entry (its seq and hash), so ``verify()`` starts there and still holds. The
    database refuses any other delete (``audit_guard``), hence the base moves first. The purge
    is itself recorded (``governance.audit_purged``) when it deleted anything.
    """
    with transaction.atomic():
        head, _created = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        last = (
            AuditEntry.objects.filter(seq__gt=head.base_seq, at__lt=before)
            .order_by("-seq")
            .values_list("seq", "hash")
            .first()
        )
        if last is None:
            return PurgeResult(0, head.base_seq)
        # Entries are numbered under the head's lock in time order, so everything up to the
        # newest old entry is old too (a clock step back would keep a few entries longer).
        head.base_seq, head.base_hash = last
        head.save(update_fields=["base_seq", "base_hash"])
        deleted, _rows = AuditEntry.objects.filter(seq__lte=head.base_seq).delete()
        record(
            "governance.audit_purged",
            details={"deleted": deleted, "through_seq": head.base_seq, "before": before},
        )
    return PurgeResult(deleted, head.base_seq)


# --- the Django admin (/admin/) ---------------------------------------------------------------

_ADMIN_ACTIONS = {1: "admin.added", 2: "admin.changed", 3: "admin.deleted"}


def _admin_fields(change_message: str) -> list[str]:
    """The changed fields' names of a Django admin log message; inline objects' descriptions
    (which name people) are left out."""
    try:
        parts = json.loads(change_message or "[]")
    except ValueError:
        return []
    fields: list[str] = []
    for part in parts if isinstance(parts, list) else []:
        changed = part.get("changed") if isinstance(part, dict) else None
        if isinstance(changed, dict) and "object" not in changed:
            fields.extend(str(name) for name in changed.get("fields", []))
    return fields


def admin_logged(sender: Any, instance: Any, created: bool = False, **_kwargs: Any) -> None:
    """``post_save`` receiver of Django admin's ``LogEntry``: every add, change and delete made
    in /admin/ is an audit entry too (target by type and id, changed field names only)."""
    if not created:
        return
    content_type = instance.content_type
    target_type = content_type.app_label + "." + content_type.model if content_type else ""
    details: dict[str, Any] = {}
    fields = _admin_fields(instance.change_message)
    if fields:
        details["fields"] = fields
    record(
        _ADMIN_ACTIONS.get(instance.action_flag, "admin.changed"),
        actor=instance.user,
        target=(target_type, instance.object_id or ""),
        details=details,
    )
