"""The handbook's six stages plus lost, a starter list of loss reasons, and the default rule."""

from __future__ import annotations

from typing import Any

from django.db import migrations

STAGES: list[dict[str, Any]] = [
    {
        "code": "initial_contact",
        "name_zh": "初步接触",
        "name_en": "Initial contact",
        "order": 10,
        "kind": "open",
        "forecast_category": "pipeline",
        "entry_criterion_zh": "客户有回应，并表现出基本兴趣",
        "entry_criterion_en": "The customer responded and shows basic interest",
        "actions_zh": "介绍公司\n收集初步需求",
        "actions_en": "Introduce the company\nCollect the initial needs",
        "requirements": [],
        "default_probability": 10,
    },
    {
        "code": "needs_analysis",
        "name_zh": "需求分析",
        "name_en": "Needs analysis",
        "order": 20,
        "kind": "open",
        "forecast_category": "pipeline",
        "entry_criterion_zh": "明确具体需求（预算、时间、功能）",
        "entry_criterion_en": "Concrete needs are known (budget, timing, functions)",
        "actions_zh": "深挖痛点\n制定方案框架",
        "actions_en": "Dig into the pain points\nDraft the solution frame",
        "requirements": ["needs"],
        "default_probability": 25,
    },
    {
        "code": "proposal",
        "name_zh": "方案提交",
        "name_en": "Proposal",
        "order": 30,
        "kind": "open",
        "forecast_category": "best_case",
        "entry_criterion_zh": "已提交正式方案（报价、方案、案例）",
        "entry_criterion_en": "A formal proposal (quote, proposal, cases) was submitted",
        "actions_zh": "讲解方案\n答疑\n争取试用/演示",
        "actions_en": "Present the proposal\nAnswer questions\nWin a trial or demo",
        "requirements": ["amount", "proposal"],
        "default_probability": 40,
    },
    {
        "code": "negotiation",
        "name_zh": "谈判签约",
        "name_en": "Negotiation",
        "order": 40,
        "kind": "open",
        "forecast_category": "commit",
        "entry_criterion_zh": "客户对方案无异议，进入价格/条款谈判",
        "entry_criterion_en": "No objection to the proposal; price and terms are negotiated",
        "actions_zh": "最终报价\n起草合同\n推动签约",
        "actions_en": "Final quote\nDraft the contract\nPush for signing",
        "requirements": ["amount", "expected_close"],
        "default_probability": 70,
    },
    {
        "code": "won",
        "name_zh": "成交",
        "name_en": "Won",
        "order": 50,
        "kind": "won",
        "forecast_category": "closed",
        "entry_criterion_zh": "合同已签署，首付款已到账",
        "entry_criterion_en": "Contract signed, first payment received",
        "actions_zh": "启动交付/服务\n更新客户状态",
        "actions_en": "Start delivery or service\nUpdate the customer status",
        "requirements": ["amount"],
        "default_probability": 100,
    },
    {
        "code": "paid",
        "name_zh": "回款/复购",
        "name_en": "Paid / repeat order",
        "order": 60,
        "kind": "won",
        "forecast_category": "closed",
        "entry_criterion_zh": "尾款已收回，或客户二次下单",
        "entry_criterion_en": "Final payment collected or a second order placed",
        "actions_zh": "开具发票\n记录复购需求\n启动客户关怀",
        "actions_en": "Issue the invoice\nRecord the repeat demand\nStart customer care",
        "requirements": [],
        "default_probability": 100,
    },
    {
        "code": "lost",
        "name_zh": "输单",
        "name_en": "Lost",
        "order": 90,
        "kind": "lost",
        "forecast_category": "omitted",
        "entry_criterion_zh": "客户选择了其他方案或放弃采购",
        "entry_criterion_en": "The customer chose another offer or dropped the purchase",
        "actions_zh": "记录输单原因\n总结复盘",
        "actions_en": "Record the reason for the loss\nReview what to learn",
        "requirements": [],
        "default_probability": 0,
    },
]

LOSS_REASONS = [
    ("价格过高", "Price too high"),
    ("选择了竞争对手", "Chose a competitor"),
    ("预算取消或不足", "Budget cancelled or too small"),
    ("需求不匹配", "Needs not met"),
    ("项目延期或取消", "Project postponed or cancelled"),
    ("联系不上客户", "Customer unreachable"),
    ("其他", "Other"),
]


def seed(apps: Any, schema_editor: Any) -> None:
    Stage = apps.get_model("opportunities", "Stage")
    LossReason = apps.get_model("opportunities", "LossReason")
    WorkflowRule = apps.get_model("opportunities", "WorkflowRule")
    for row in STAGES:
        Stage.objects.update_or_create(
            code=row["code"], defaults={**row, "probability": row["default_probability"]}
        )
    for order, (zh, en) in enumerate(LOSS_REASONS, start=1):
        LossReason.objects.get_or_create(name_zh=zh, defaults={"name_en": en, "order": order * 10})
    proposal = Stage.objects.get(code="proposal")
    WorkflowRule.objects.get_or_create(
        name="进入方案提交时通知销售主管 / Notify the sales supervisor on entering Proposal",
        defaults={"stage": proposal, "notify": "supervisor"},
    )


def unseed(apps: Any, schema_editor: Any) -> None:
    """Seeded rows stay: opportunities may point at them."""


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
