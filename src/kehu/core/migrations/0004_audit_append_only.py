from typing import Any

from django.db import migrations

from kehu.core import audit_guard


def install(apps: Any, schema_editor: Any) -> None:
    audit_guard.install(schema_editor.connection)


def remove(apps: Any, schema_editor: Any) -> None:
    audit_guard.remove(schema_editor.connection)


class Migration(migrations.Migration):
    """The database refuses to change audit entries (triggers on SQLite and PostgreSQL)."""

    dependencies = [("core", "0003_audit_trail")]

    operations = [migrations.RunPython(install, remove)]
