"""Leads keep the values of their custom fields (自定义字段) in ``custom``, added in place
on SQLite like the customers' (customers 0018)."""

from django.db import migrations

from kehu.core.custom_fields import storage_operations


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0002_default_priority_rules"),
    ]

    operations = storage_operations("leads", "lead", "leads_lead")
