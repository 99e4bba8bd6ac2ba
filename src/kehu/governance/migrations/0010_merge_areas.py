from django.db import migrations


class Migration(migrations.Migration):
    """Joins the governance areas' migrations, each written after 0001 on its own."""

    dependencies = [
        ("governance", "0002_destruction"),
        ("governance", "0003_retention"),
        ("governance", "0004_requests"),
        ("governance", "0005_backups"),
    ]
    operations: list[migrations.operations.base.Operation] = []
