"""Tickets keep the values of their custom fields (自定义字段) in ``custom``, added in place
on SQLite like the customers' (customers 0018)."""

from django.db import migrations

from kehu.core.custom_fields import storage_operations


class Migration(migrations.Migration):
    dependencies = [
        ("service", "0002_sla_defaults"),
    ]

    operations = storage_operations("service", "ticket", "service_ticket")
