"""The contact list pages along an index; the duplicate check finds phones and e-mails by index.

``contact_list_order`` (customer, -is_active, -is_primary, name, id) is the contact list's
order and a customer's contacts' default order, so neither sorts: at size M on SQLite the
list sorted all 200,000 contacts for every page (173 ms). It leads with the customer, so the
foreign key's own index is dropped (one B-tree less per written contact). Only the
database's index goes: ``AlterField`` would rebuild the whole contact table on SQLite (and
drop any trigger another migration put on it).

SQLite only: ``contact_work_phone_set`` and ``contact_email_set`` index the values that are
set. ``ANALYZE`` records the average rows per value of an index, and a column that is mostly
empty (work phones: every contact of the benchmark's data, most of an imported book) averages
to "every row", so SQLite scanned the contact table (60–80 ms at size M) rather than look up
``work_phone IN (…)``; the empty value is not in these indexes, and their average is one row.
The duplicate check asks for ``NOT (column = '')`` to use them. PostgreSQL keeps per-value
statistics and finds the rare values through the full indexes.
"""

from typing import Any

from django.db import migrations, models

PARTIAL = {
    "contact_work_phone_set": "work_phone",
    "contact_email_set": "email",
}


def _customer_indexes(schema_editor: Any) -> list[str]:
    """The plain indexes of the contact table on ``customer_id`` alone (the foreign key's)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "customers_contact")
    return [
        name
        for name, info in constraints.items()
        if info["index"]
        and info["columns"] == ["customer_id"]
        and not (info["primary_key"] or info["unique"] or info["foreign_key"])
    ]


def drop_customer_index(apps: Any, schema_editor: Any) -> None:
    quote = schema_editor.quote_name
    for name in _customer_indexes(schema_editor):
        schema_editor.execute(f"DROP INDEX {quote(name)}")


def create_customer_index(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("customers", "contact")
    field = model._meta.get_field("customer")
    schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


def create_partial_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, column in PARTIAL.items():
        schema_editor.execute(
            f'CREATE INDEX "{name}" ON "customers_contact" ("{column}") '
            f"WHERE NOT (\"{column}\" = '')"
        )


def drop_partial_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for name in PARTIAL:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("customers", "0014_search_trigram")]

    operations = [
        migrations.AlterModelOptions(
            name="contact",
            options={
                "ordering": ["-is_active", "-is_primary", "name", "id"],
                "verbose_name": "contact",
                "verbose_name_plural": "contacts",
            },
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                fields=["customer", "-is_active", "-is_primary", "name", "id"],
                name="contact_list_order",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="contacts",
                        to="customers.customer",
                        verbose_name="customer",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_customer_index, create_customer_index, elidable=False)
            ],
        ),
        migrations.RunPython(create_partial_indexes, drop_partial_indexes, elidable=False),
    ]
