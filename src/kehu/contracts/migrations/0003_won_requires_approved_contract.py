"""成交 requires an approved contract: add ``contract_approved`` to the won stage's requirements."""

from django.db import migrations

CODE = "contract_approved"


def add(apps, schema_editor):
    Stage = apps.get_model("opportunities", "Stage")
    for stage in Stage.objects.filter(code="won"):
        codes = list(stage.requirements or [])
        if CODE not in codes:
            # the contract comes before its first payment on the checklist
            at = codes.index("first_payment") if "first_payment" in codes else len(codes)
            stage.requirements = [*codes[:at], CODE, *codes[at:]]
            stage.save(update_fields=["requirements"])


def remove(apps, schema_editor):
    Stage = apps.get_model("opportunities", "Stage")
    for stage in Stage.objects.filter(code="won"):
        if CODE in (stage.requirements or []):
            stage.requirements = [code for code in stage.requirements if code != CODE]
            stage.save(update_fields=["requirements"])


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0002_first_payment_requirement"),
        ("opportunities", "0002_seed_stages"),
    ]

    operations = [migrations.RunPython(add, remove)]
