"""The handbooks' default cadence (跟进周期表): by status, and revisits by grade."""

from typing import Any

from django.db import migrations

DEFAULT_PLANS = [
    ("潜在客户：每周跟进", "potential", "", 7, "电话沟通 + 行业资讯"),
    ("意向客户：每 2 天跟进", "intent", "", 2, "方案讨论、异议处理"),
    ("成交客户：每月跟进", "won", "", 30, "满意度调研、使用建议"),
    ("A 级客户：每月回访", "", "A", 30, "高价值客户月度回访"),
    ("B 级客户：每季度回访", "", "B", 90, "季度回访"),
    ("C 级客户：每季度回访", "", "C", 90, "季度回访"),
]


def create_plans(apps: Any, schema_editor: Any) -> None:
    plan_model = apps.get_model("followups", "CadencePlan")
    for name, status, grade, days, action in DEFAULT_PLANS:
        plan_model.objects.get_or_create(
            status=status,
            grade=grade,
            defaults={"name": name, "interval_days": days, "action": action},
        )


class Migration(migrations.Migration):
    dependencies = [("followups", "0001_initial")]

    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
