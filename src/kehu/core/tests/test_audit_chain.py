"""The audit trail's chain: entries link by hash, and a changed or removed row is found."""

from __future__ import annotations

import pytest

from kehu.core import audit
from kehu.core.models import AuditEntry
from kehu.core.testing.factories import make_user

pytestmark = pytest.mark.django_db


def test_entries_chain_one_after_another_and_verify() -> None:
    admin = make_user("admin", username="audit-admin")
    first = audit.record("auth.sign_in", actor=admin)
    second = audit.record("customers.merge", actor=admin, target=("customers.customer", 7))
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    assert second.actor_name == "audit-admin"
    assert audit.verify().ok
    assert audit.verify().checked == 2


def test_a_changed_entry_breaks_the_chain() -> None:
    audit.record("auth.sign_in_failed", actor_name="nobody")
    entry = audit.record("auth.sign_in_failed", actor_name="nobody")
    audit.record("auth.sign_in_failed", actor_name="nobody")
    AuditEntry.objects.filter(pk=entry.pk).update(actor_name="somebody")
    result = audit.verify()
    assert not result.ok
    assert result.first_bad_seq == entry.seq


def test_a_removed_entry_breaks_the_chain() -> None:
    for _ in range(3):
        audit.record("auth.sign_in_failed", actor_name="nobody")
    AuditEntry.objects.filter(seq=2).delete()
    assert audit.verify().problem == "an entry is missing"
    AuditEntry.objects.filter(seq=3).delete()
    assert audit.verify().problem == "the newest entries are missing"
