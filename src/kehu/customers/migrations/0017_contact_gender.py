"""Contacts keep their form of address (先生/女士) for the 称呼 of letters and messages.

As in 0016: on SQLite ``AddField`` would rebuild the contact table and drop the partial
indexes of 0015 and the search triggers, so the column is added in place there.
"""

from typing import Any

from django.db import migrations, models

CHOICES = [("m", "Mr (先生)"), ("f", "Ms (女士)")]


def _field() -> models.CharField:
    return models.CharField(
        blank=True, choices=CHOICES, max_length=1, verbose_name="form of address"
    )


def _named_field() -> models.CharField:
    field = _field()
    field.set_attributes_from_name("gender")
    return field


def add_column(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            'ALTER TABLE "customers_contact" ADD COLUMN "gender" varchar(1) NOT NULL DEFAULT \'\''
        )
        return
    schema_editor.add_field(apps.get_model("customers", "contact"), _named_field())


def drop_column(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute('ALTER TABLE "customers_contact" DROP COLUMN "gender"')
        return
    schema_editor.remove_field(apps.get_model("customers", "contact"), _named_field())


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0016_contact_mobile_reason"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="contact", name="gender", field=_field()),
            ],
            database_operations=[
                migrations.RunPython(add_column, drop_column, elidable=False),
            ],
        ),
        migrations.AddField(model_name="historicalcontact", name="gender", field=_field()),
    ]
