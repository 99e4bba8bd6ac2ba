"""Substring search through an index on both databases (issue 35).

SQLite: FTS5 ``trigram`` tables of the customers' search text and of the contacts' name,
email and phones, filled from the existing rows and kept in sync by triggers
(``customers.search_index``); the two unmanaged models let the selectors query them.
PostgreSQL: the customers' search text has its pg_trgm index since 0003; the contact search
(name or email ``ILIKE``, phones ``LIKE``) gets one GIN index over the four expressions it
filters on, which a bitmap OR of the four conditions reads.
"""

from typing import Any

from django.db import migrations, models

import kehu.customers.search_index
from kehu.core.postgres import postgresql_only

# The indexes as this migration made them (0021 added the contacts' custom text)
SQLITE_INDEXES = (
    ("customers_customer_fts", "customers_customer", ("search_text",)),
    ("customers_contact_fts", "customers_contact", ("name", "email", "mobile", "work_phone")),
)
POSTGRESQL_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # the expressions Django writes for icontains (UPPER(col::text)) and contains (col::text)
    "CREATE INDEX IF NOT EXISTS contact_search_trgm ON customers_contact USING gin ("
    "(UPPER(name::text)) gin_trgm_ops, (UPPER(email::text)) gin_trgm_ops, "
    "mobile gin_trgm_ops, work_phone gin_trgm_ops)",
]
POSTGRESQL_BACKWARD = ["DROP INDEX IF EXISTS contact_search_trgm"]


def sqlite_forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        kehu.customers.search_index.create(schema_editor.connection, SQLITE_INDEXES)


def sqlite_backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        kehu.customers.search_index.drop(schema_editor.connection, SQLITE_INDEXES)


def forward(apps: Any, schema_editor: Any) -> None:
    sqlite_forward(apps, schema_editor)
    postgresql_only(POSTGRESQL_FORWARD)(apps, schema_editor)


def backward(apps: Any, schema_editor: Any) -> None:
    sqlite_backward(apps, schema_editor)
    postgresql_only(POSTGRESQL_BACKWARD)(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0013_list_sort_by_grade'),
    ]

    operations = [
        migrations.CreateModel(
            name='ContactSearchIndex',
            fields=[
                ('id', models.BigIntegerField(db_column='rowid', primary_key=True, serialize=False)),
                ('document', kehu.customers.search_index.MatchField(db_column='customers_contact_fts')),
            ],
            options={
                'db_table': 'customers_contact_fts',
                'managed': False,
                'default_permissions': (),
            },
        ),
        migrations.CreateModel(
            name='CustomerSearchIndex',
            fields=[
                ('id', models.BigIntegerField(db_column='rowid', primary_key=True, serialize=False)),
                ('document', kehu.customers.search_index.MatchField(db_column='customers_customer_fts')),
            ],
            options={
                'db_table': 'customers_customer_fts',
                'managed': False,
                'default_permissions': (),
            },
        ),
        migrations.RunPython(forward, backward, elidable=False),
    ]
