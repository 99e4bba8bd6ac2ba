"""The import record's job index duplicated the leading column of import_record_row."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('transfer', '0004_import_kinds'),
    ]

    operations = [
        migrations.AlterField(
            model_name='importrecord',
            name='job',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='records', to='transfer.importjob'),
        ),
    ]
