"""The contact list's sorts by name and by date added read an index each: a manager's or an
administrator's list sorted every contact in scope for one page (size M: 320–650 ms, about
10–30 ms along the index; bench/RESULTS.md, round s)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0021_contact_custom_text'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['name', 'id'], name='contact_name_order'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['created_at', 'id'], name='contact_created_order'),
        ),
    ]
