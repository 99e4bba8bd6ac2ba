"""PLACEHOLDER ENGINE for the personal-data requests branch: the lead replaces this module
with the destruction engine of the ``destruction`` branch at merge (keep that file).

Only ``destroy_contact`` and ``destroy_lead`` exist here, with the engine's signatures, and
they delete the person's row (its cascades go with it) and write the one tombstone audit
entry, so that erasure requests work end to end on this branch. They do not yet clean the
history tables, files, search keys or free text the engine reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from kehu.core import audit
from kehu.customers.models import Contact
from kehu.leads.models import Lead


@dataclass
class DestructionResult:
    counts: dict[str, int] = field(default_factory=dict)


def _delete(instance: Contact | Lead, *, actor: Any, reason: str, kind: str) -> DestructionResult:
    target = (instance._meta.label_lower, instance.pk)
    _total, per_model = instance.delete()
    counts = {label: count for label, count in per_model.items() if count}
    audit.record(
        "governance.destruction",
        actor=actor,
        target=target,
        details={"kind": kind, "reason": reason, "counts": counts},
    )
    return DestructionResult(counts=counts)


@transaction.atomic
def destroy_contact(contact: Contact, *, actor: Any, reason: str) -> DestructionResult:
    return _delete(contact, actor=actor, reason=reason, kind="contact")


@transaction.atomic
def destroy_lead(lead: Lead, *, actor: Any, reason: str) -> DestructionResult:
    return _delete(lead, actor=actor, reason=reason, kind="lead")
