"""Keep each deal's furthest non-lost stage order, backfilled from its stage changes."""

from django.db import migrations, models

# One statement, valid on SQLite and PostgreSQL: the highest order of the non-lost stages
# each deal entered (NULL for a deal without stage changes, as the funnel treated it).
BACKFILL = """
UPDATE opportunities_opportunity
SET furthest_stage_order = (
    SELECT MAX(st."order")
    FROM opportunities_stagechange sc
    JOIN opportunities_stage st ON st.id = sc.stage_id
    WHERE sc.opportunity_id = opportunities_opportunity.id
      AND st.kind <> 'lost'
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("opportunities", "0002_seed_stages"),
    ]

    operations = [
        migrations.AddField(
            model_name="opportunity",
            name="furthest_stage_order",
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop, elidable=True),
    ]
