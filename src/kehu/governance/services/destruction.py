"""The destruction engine's interface (合规销毁).

PLACEHOLDER FOR THE MERGE: this file is the retention branch's stand-in for helper B's engine
(branch ``destruction``); the lead keeps B's file at merge and drops this one. It has B's
exact signatures and does a plain delete of the rows (cascades included), refuses a customer
under legal hold and writes the one ``governance.destruction`` tombstone per call, so the
retention workflow (``services/retention.py``) runs end to end on this branch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import Conflict
from kehu.customers.models import Contact, Customer
from kehu.governance.services.holds import held_ids
from kehu.leads.models import Lead


@dataclass
class DestructionResult:
    counts: dict[str, int] = field(default_factory=dict)


def _tombstone(actor: Any, reason: str, policy_key: str, counts: dict[str, int]) -> None:
    audit.record(
        "governance.destruction",
        actor=actor,
        details={"reason": reason, "policy": policy_key, "counts": counts},
    )


@transaction.atomic
def destroy_customers(
    customer_ids: Iterable[int], *, actor: Any, reason: str, policy_key: str = ""
) -> DestructionResult:
    ids = sorted(set(customer_ids))
    if held_ids(ids):
        raise Conflict(_("A customer under legal hold cannot be destroyed."), code="legal_hold")
    try:
        _total, per_model = Customer.objects.filter(pk__in=ids).delete()
    except models.ProtectedError as error:
        raise Conflict(
            _("Other records still point at this customer."), code="protected"
        ) from error
    counts = {label: count for label, count in per_model.items() if count}
    _tombstone(actor, reason, policy_key, counts)
    return DestructionResult(counts=counts)


@transaction.atomic
def destroy_contact(contact: Contact, *, actor: Any, reason: str) -> DestructionResult:
    _total, per_model = Contact.objects.filter(pk=contact.pk).delete()
    counts = {label: count for label, count in per_model.items() if count}
    _tombstone(actor, reason, "", counts)
    return DestructionResult(counts=counts)


@transaction.atomic
def destroy_lead(lead: Lead, *, actor: Any, reason: str) -> DestructionResult:
    _total, per_model = Lead.objects.filter(pk=lead.pk).delete()
    counts = {label: count for label, count in per_model.items() if count}
    _tombstone(actor, reason, "", counts)
    return DestructionResult(counts=counts)
