"""Default SLA policies (issue 27: respond 2 h, resolve 24 h of business time), the public
holidays of this year and the next, and the business minutes a ticket's clock stood paused.

The issue's defaults are the medium priority's; high is tighter and low looser, for every
customer grade (admins add grade-specific policies):

    priority  respond  resolve  warn before   (business minutes)
    high         60      480       15         1 h / 8 h (one business day)
    medium      120     1440       30         2 h / 24 h
    low         480     4320       60         8 h / 72 h
"""

from django.db import migrations, models

DEFAULTS = [
    {"priority": "high", "respond_minutes": 60, "resolve_minutes": 8 * 60, "warn_before_minutes": 15},
    {"priority": "medium", "respond_minutes": 2 * 60, "resolve_minutes": 24 * 60, "warn_before_minutes": 30},
    {"priority": "low", "respond_minutes": 8 * 60, "resolve_minutes": 72 * 60, "warn_before_minutes": 60},
]  # fmt: skip


def load_calendar(apps, schema_editor):  # type: ignore[no-untyped-def]
    """This year's and next year's public holidays and 调休 from the holidays package (the
    monthly job ``service.tasks.refresh_business_calendar`` keeps them coming)."""
    from django.utils import timezone

    from kehu.service.services.calendar import SOURCE_PACKAGE, holiday_plan

    CalendarEntry = apps.get_model("service", "CalendarEntry")
    if CalendarEntry.objects.exists():
        return
    year = timezone.localdate().year
    for entry in [*holiday_plan(year), *holiday_plan(year + 1)]:
        CalendarEntry.objects.create(
            name=entry.name,
            kind=entry.kind,
            start=entry.start,
            end=entry.end,
            source=SOURCE_PACKAGE,
        )


def add_defaults(apps, schema_editor):  # type: ignore[no-untyped-def]
    SlaPolicy = apps.get_model("service", "SlaPolicy")
    for policy in DEFAULTS:
        SlaPolicy.objects.get_or_create(
            priority=policy["priority"], customer_grade="", defaults=policy
        )


class Migration(migrations.Migration):
    dependencies = [("service", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="historicalticket",
            name="sla_paused_minutes",
            field=models.PositiveIntegerField(
                default=0, editable=False, verbose_name="SLA paused (business min)"
            ),
        ),
        migrations.AddField(
            model_name="ticket",
            name="sla_paused_minutes",
            field=models.PositiveIntegerField(
                default=0, editable=False, verbose_name="SLA paused (business min)"
            ),
        ),
        migrations.RunPython(add_defaults, migrations.RunPython.noop),
        migrations.RunPython(load_calendar, migrations.RunPython.noop),
    ]
