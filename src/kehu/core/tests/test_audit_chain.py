"""The audit trail's chain: entries link by hash, and a changed or removed row is found."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import DatabaseError, transaction

from kehu.core import audit
from kehu.core.models import AuditChainHead, AuditEntry
from kehu.core.testing.audit import tampering
from kehu.core.testing.factories import make_user

pytestmark = pytest.mark.django_db


def test_entries_chain_one_after_another_and_verify() -> None:
    admin = make_user("admin", username="audit-admin")
    first = audit.record("auth.sign_in", actor=admin)
    second = audit.record("customers.merge", actor=admin, target=("customers.customer", 7))
    assert second.seq == first.seq + 1  # the user's creation is the first entry
    assert second.prev_hash == first.hash
    assert second.actor_name == "audit-admin"
    assert audit.verify().ok
    assert audit.verify().checked == 3


def test_a_changed_entry_breaks_the_chain() -> None:
    audit.record("auth.sign_in_failed", actor_name="nobody")
    entry = audit.record("auth.sign_in_failed", actor_name="nobody")
    audit.record("auth.sign_in_failed", actor_name="nobody")
    with tampering():
        AuditEntry.objects.filter(pk=entry.pk).update(actor_name="somebody")
    result = audit.verify()
    assert not result.ok
    assert result.first_bad_seq == entry.seq


def test_a_removed_entry_breaks_the_chain() -> None:
    for _ in range(3):
        audit.record("auth.sign_in_failed", actor_name="nobody")
    with tampering():
        AuditEntry.objects.filter(seq=2).delete()
    assert audit.verify().problem == "an entry is missing"
    with tampering():
        AuditEntry.objects.filter(seq=3).delete()
    assert audit.verify().problem == "the newest entries are missing"


def test_the_database_refuses_to_change_or_delete_entries() -> None:
    for _ in range(3):
        audit.record("auth.sign_in_failed", actor_name="nobody")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=2).update(actor_name="somebody")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=1).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditChainHead.objects.filter(pk=1).update(seq=1)
    assert AuditEntry.objects.count() == 3
    assert audit.verify().ok


def test_the_purge_removes_the_oldest_entries_and_the_chain_still_holds() -> None:
    with time_machine.travel(datetime(2022, 1, 5, 9, tzinfo=UTC), tick=False):
        for _ in range(3):
            audit.record("auth.sign_in_failed", actor_name="nobody")
    with time_machine.travel(datetime(2026, 1, 5, 9, tzinfo=UTC), tick=False):
        kept = audit.record("auth.sign_in", actor_name="nobody")
        result = audit.purge(datetime(2023, 1, 1, tzinfo=UTC))
    assert (result.deleted, result.base_seq) == (3, 3)
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", "action")) == [
        (kept.seq, "auth.sign_in"),
        (kept.seq + 1, "governance.audit_purged"),
    ]
    verified = audit.verify()
    assert verified.ok
    assert verified.checked == 2
    assert audit.purge(datetime(2023, 1, 1, tzinfo=UTC)).deleted == 0
    # A purged entry cannot come back below the base, nor a kept one go.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=kept.seq).delete()
