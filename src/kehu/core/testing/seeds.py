"""Put back the rows data migrations seed (stages, cadence plans, priority rules).

Transactional tests end with a flush that empties every table; Django then emits post_migrate,
which restores reference data but not what RunPython migrations created. Tests that run after
such a flush would otherwise see a CRM without its default stages or rules.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.apps import apps

# (model label, migration module, seed function): seeded only when the table is empty.
SEEDS = (
    ("opportunities.Stage", "kehu.opportunities.migrations.0002_seed_stages", "seed"),
    (
        "followups.CadencePlan",
        "kehu.followups.migrations.0002_default_cadence_plans",
        "create_plans",
    ),
    ("leads.PriorityRule", "kehu.leads.migrations.0002_default_priority_rules", "add_defaults"),
    ("service.SlaPolicy", "kehu.service.migrations.0002_sla_defaults", "add_defaults"),
    ("service.CalendarEntry", "kehu.service.migrations.0002_sla_defaults", "load_calendar"),
)

# (model label, migration module, function): later data migrations that change a seeded
# table's rows (a stage's requirements), run again whenever that table was seeded above.
FOLLOW_UPS = (
    (
        "opportunities.Stage",
        "kehu.contracts.migrations.0002_first_payment_requirement",
        "add",
    ),
    (
        "opportunities.Stage",
        "kehu.contracts.migrations.0003_won_requires_approved_contract",
        "add",
    ),
)


def restore_seed_data(**kwargs: Any) -> None:
    seeded = set()
    for label, module, function in SEEDS:
        if not apps.get_model(label).objects.exists():
            getattr(import_module(module), function)(apps, None)
            seeded.add(label)
    for label, module, function in FOLLOW_UPS:
        if label in seeded:
            getattr(import_module(module), function)(apps, None)
