"""Contacts keep why a mobile sits beside a work number (docs/data-entry.md).

On SQLite ``AddField`` rebuilds the contact table, which would drop the partial indexes of
0015 (``contact_work_phone_set``, ``contact_email_set``) and the search triggers; an
``ALTER TABLE … ADD COLUMN`` with a constant default adds the column in place. PostgreSQL adds
it in place either way.
"""

from typing import Any

from django.db import migrations, models


def _field() -> models.CharField:
    return models.CharField(blank=True, max_length=300, verbose_name="reason for the mobile")


def _named_field() -> models.CharField:
    field = _field()
    field.set_attributes_from_name("mobile_reason")
    return field


def add_column(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            'ALTER TABLE "customers_contact" '
            "ADD COLUMN \"mobile_reason\" varchar(300) NOT NULL DEFAULT ''"
        )
        return
    # the database operations run on the state without the field: it is built here
    schema_editor.add_field(apps.get_model("customers", "contact"), _named_field())


def drop_column(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute('ALTER TABLE "customers_contact" DROP COLUMN "mobile_reason"')
        return
    schema_editor.remove_field(apps.get_model("customers", "contact"), _named_field())


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0015_contact_list_order"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="contact", name="mobile_reason", field=_field()),
            ],
            database_operations=[
                migrations.RunPython(add_column, drop_column, elidable=False),
            ],
        ),
        migrations.AddField(model_name="historicalcontact", name="mobile_reason", field=_field()),
    ]
