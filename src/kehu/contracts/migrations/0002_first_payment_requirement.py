"""成交 requires the first payment (the handbooks: 合同已签署，首付款已到账)."""

from django.db import migrations

CODE = "first_payment"


def add(apps, schema_editor):
    Stage = apps.get_model("opportunities", "Stage")
    for stage in Stage.objects.filter(code="won"):
        if CODE not in stage.requirements:
            stage.requirements = [*stage.requirements, CODE]
            stage.save(update_fields=["requirements"])


def remove(apps, schema_editor):
    Stage = apps.get_model("opportunities", "Stage")
    for stage in Stage.objects.all():
        if CODE in stage.requirements:
            stage.requirements = [code for code in stage.requirements if code != CODE]
            stage.save(update_fields=["requirements"])


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0001_initial"),
        ("opportunities", "0002_seed_stages"),
    ]

    operations = [migrations.RunPython(add, remove)]
