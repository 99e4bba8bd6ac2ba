"""The handbooks' default priority rules (S/A/B from source, urgency and value); admins edit them."""

from decimal import Decimal

from django.db import migrations

DEFAULTS = [
    {"urgency": "high", "priority": "S"},
    {"min_value": Decimal("500000"), "priority": "S"},
    {"source": "referral", "priority": "A"},
    {"source": "inbound_call", "priority": "A"},
    {"min_value": Decimal("100000"), "priority": "A"},
    {"urgency": "medium", "source": "website", "priority": "A"},
]


def add_defaults(apps, schema_editor):  # type: ignore[no-untyped-def]
    PriorityRule = apps.get_model("leads", "PriorityRule")
    if PriorityRule.objects.exists():
        return
    for position, rule in enumerate(DEFAULTS, start=1):
        PriorityRule.objects.create(position=position, **rule)


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]
    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
