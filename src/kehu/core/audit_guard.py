"""The database's own refusal to change the audit trail (append-only, ``core/audit.py``).

Triggers on SQLite and PostgreSQL refuse every ``UPDATE`` of an audit entry and every
``DELETE`` of an entry newer than the chain's base (``AuditChainHead.base_seq``): only the
retention purge, which moves the base first, deletes, and only the oldest entries. The head
only moves forward. Whoever owns the database can still drop the triggers; the hash chain
(``kehu audit verify``) finds what they changed then. Without a head row (an empty or
flushed database) nothing is refused, so ``flush`` and test teardown work (``flush`` deletes
the head first: ``core/management/commands/flush.py``).

SQLite drops a table's triggers when a migration rebuilds it: ``ensure_after_migrate`` puts
them back after every ``migrate``, as ``customers/search_index.py`` does for its own.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

REFUSED = "the audit trail is append-only"

SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS core_auditentry_no_update BEFORE UPDATE ON core_auditentry "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}: entries are never changed'); END",
    "CREATE TRIGGER IF NOT EXISTS core_auditentry_no_delete BEFORE DELETE ON core_auditentry "
    "WHEN OLD.seq > COALESCE((SELECT base_seq FROM core_auditchainhead WHERE id = 1), OLD.seq) "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}: only entries before the base may be purged'); END",
    "CREATE TRIGGER IF NOT EXISTS core_auditchainhead_forward BEFORE UPDATE "
    "ON core_auditchainhead WHEN NEW.seq < OLD.seq OR NEW.base_seq < OLD.base_seq "
    "OR NEW.base_seq > NEW.seq "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}: the chain head only moves forward'); END",
]
SQLITE_NAMES = [
    "core_auditentry_no_update",
    "core_auditentry_no_delete",
    "core_auditchainhead_forward",
]

POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION core_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION '{REFUSED}: entries are never changed (seq %)', OLD.seq;
  END IF;
  IF OLD.seq > COALESCE((SELECT base_seq FROM core_auditchainhead WHERE id = 1), OLD.seq) THEN
    RAISE EXCEPTION '{REFUSED}: only entries before the base may be purged (seq %)', OLD.seq;
  END IF;
  RETURN OLD;
END $$""",
    f"""CREATE OR REPLACE FUNCTION core_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.seq < OLD.seq OR NEW.base_seq < OLD.base_seq OR NEW.base_seq > NEW.seq THEN
    RAISE EXCEPTION '{REFUSED}: the chain head only moves forward';
  END IF;
  RETURN NEW;
END $$""",
    "DROP TRIGGER IF EXISTS core_auditentry_append_only ON core_auditentry",
    "CREATE TRIGGER core_auditentry_append_only BEFORE UPDATE OR DELETE ON core_auditentry "
    "FOR EACH ROW EXECUTE FUNCTION core_audit_refuse()",
    "DROP TRIGGER IF EXISTS core_auditchainhead_forward ON core_auditchainhead",
    "CREATE TRIGGER core_auditchainhead_forward BEFORE UPDATE ON core_auditchainhead "
    "FOR EACH ROW EXECUTE FUNCTION core_audit_head_forward()",
]


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers (idempotent) on a SQLite or PostgreSQL database."""
    statements = {"sqlite": SQLITE, "postgresql": POSTGRES}.get(connection.vendor, [])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def remove(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers (the migration's reverse; tests that play the tamperer)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in SQLITE_NAMES:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        elif connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER IF EXISTS core_auditentry_append_only ON core_auditentry")
            cursor.execute(
                "DROP TRIGGER IF EXISTS core_auditchainhead_forward ON core_auditchainhead"
            )


def ensure_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver of the core app: the triggers exist after every migrate."""
    install(connections[using])
