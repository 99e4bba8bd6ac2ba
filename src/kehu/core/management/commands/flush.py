"""Django's ``flush``, with the audit chain's head removed first.

The database refuses to delete audit entries newer than the chain's base while the head row
exists (``core/audit_guard.py``); SQLite's flush deletes table by table in no fixed order, so
the head goes first, in the flush's own transaction. Wiping the whole database is the one
place this is meant.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections, transaction


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        if options.get("interactive", True):
            name = connection.settings_dict["NAME"]
            confirm = input(
                f'This will IRREVERSIBLY DESTROY all data in the "{name}" database.'
                " Type 'yes' to continue, or 'no' to cancel: "
            )
            if confirm != "yes":
                self.stdout.write("Flush cancelled.")
                return
        with transaction.atomic(using=options["database"]):
            with connection.cursor() as cursor:
                if "core_auditchainhead" in connection.introspection.table_names(cursor):
                    cursor.execute("DELETE FROM core_auditchainhead")
            super().handle(**{**options, "interactive": False})
