"""Customers and contacts keep the values of their custom fields (自定义字段) in ``custom``.

The column is added in place on SQLite (``custom_fields.storage_operations``): ``AddField``
would rebuild the tables and drop the partial indexes and the search triggers."""

from django.db import migrations

from kehu.core.custom_fields import storage_operations


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0017_contact_gender"),
    ]

    operations = [
        *storage_operations("customers", "customer", "customers_customer"),
        *storage_operations("customers", "contact", "customers_contact"),
    ]
