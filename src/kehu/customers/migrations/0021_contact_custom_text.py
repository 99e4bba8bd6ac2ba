"""The contact search reads contacts' searchable custom values (issue 31).

``Contact.custom_text`` holds them folded (``normalize.contact_custom_text``). As in 0016 and
0017, on SQLite the column is added in place (``AddField`` would rebuild the table and drop
its partial indexes and search triggers). The contacts' FTS5 table is made again with the new
column and indexed from the table; on PostgreSQL a pg_trgm GIN index of its own serves
``custom_text LIKE '%term%'`` beside 0014's index of the other four columns. The texts of
existing contacts are filled by ``integrations 0004``, which reads the fields' definitions.
"""

from typing import Any

from django.db import migrations, models

import kehu.customers.search_index
from kehu.core.postgres import postgresql_only

CONTACT_FTS = "customers_contact_fts"
BEFORE = ((CONTACT_FTS, "customers_contact", ("name", "email", "mobile", "work_phone")),)
AFTER = (
    (CONTACT_FTS, "customers_contact", ("name", "email", "mobile", "work_phone", "custom_text")),
)
POSTGRESQL_FORWARD = [
    "CREATE INDEX IF NOT EXISTS contact_custom_text_trgm ON customers_contact "
    "USING gin (custom_text gin_trgm_ops)",
]
POSTGRESQL_BACKWARD = ["DROP INDEX IF EXISTS contact_custom_text_trgm"]


def _field() -> models.TextField:
    return models.TextField(blank=True, default="", editable=False)


def _named_field() -> models.TextField:
    field = _field()
    field.set_attributes_from_name("custom_text")
    return field


def add_column(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        schema_editor.add_field(apps.get_model("customers", "contact"), _named_field())
        postgresql_only(POSTGRESQL_FORWARD)(apps, schema_editor)
        return
    schema_editor.execute(
        'ALTER TABLE "customers_contact" ADD COLUMN "custom_text" text NOT NULL DEFAULT \'\''
    )
    kehu.customers.search_index.drop(connection, BEFORE)
    kehu.customers.search_index.create(connection, AFTER)


def drop_column(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        postgresql_only(POSTGRESQL_BACKWARD)(apps, schema_editor)
        schema_editor.remove_field(apps.get_model("customers", "contact"), _named_field())
        return
    kehu.customers.search_index.drop(connection, AFTER)
    schema_editor.execute('ALTER TABLE "customers_contact" DROP COLUMN "custom_text"')
    kehu.customers.search_index.create(connection, BEFORE)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0020_saved_filter_contacts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="contact", name="custom_text", field=_field()),
            ],
            database_operations=[
                migrations.RunPython(add_column, drop_column, elidable=False),
            ],
        ),
    ]
