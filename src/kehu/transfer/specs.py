"""What can be imported: the fields of each import kind, their headers and their synonyms.

A field's ``headers`` are the Chinese and English column names Kehu's templates use;
``synonyms`` are the other names found in real spreadsheets and old CRMs. Header matching
ignores case, width, spaces, punctuation and a trailing ``*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core import custom_fields

FieldType = Literal[
    "custom",
    "text",
    "choice",
    "industry",
    "region",
    "phone",
    "email",
    "date",
    "decimal",
    "bool",
    "user",
    "tags",
    "url",
    "credit_code",
    "datetime",
    "stage",
    "customer",
]


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str | Promise
    zh: str
    en: str
    type: FieldType = "text"
    max_length: int = 200
    required: bool = False
    synonyms: tuple[str, ...] = ()
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    example: str = ""
    group: Literal["customer", "contact", "record"] = "customer"
    custom: custom_fields.FieldSpec | None = None  # a custom field (自定义字段): its definition

    @property
    def header(self) -> str:
        """The template's bilingual header, e.g. ``客户名称 / Customer name *``."""
        return f"{self.zh} / {self.en}" + (" *" if self.required else "")


KIND_CHOICES = {
    "company": ("企业", "公司", "企业客户", "b2b", "company", "组织"),
    "individual": ("个人", "个人客户", "b2c", "individual", "person"),
}
SOURCE_CHOICES = {
    "trade_show": ("行业展会", "展会", "展销会", "trade show", "exhibition"),
    "website": ("官网留言", "官网", "网站", "注册表单", "官网留言/注册表单", "website", "web form"),
    "inbound_call": ("电话咨询", "来电", "电话", "400电话", "inbound call", "phone"),
    "referral": ("客户推荐", "推荐", "转介绍", "渠道转介绍", "渠道", "referral"),
    "social_media": ("社交媒体", "抖音", "企业抖音", "微信", "微博", "小红书", "social media"),
    "cold_visit": ("陌拜", "陌生拜访", "上门拜访", "cold visit"),
    "market_research": ("市场调研", "调研", "market research"),
    "other": ("其他", "其它", "other"),
}
STATUS_CHOICES = {
    "potential": ("潜在客户", "潜在", "potential", "potential customer"),
    "intent": ("意向客户", "意向", "有意向", "intent", "intent customer"),
    "won": ("成交客户", "成交", "已成交", "签约客户", "won", "customer", "won customer"),
    "churned": ("流失客户", "流失", "已流失", "churned", "lost"),
}
EMPLOYEES_CHOICES = {
    "lt50": ("50人以下", "1-49人", "小于50人", "under 50"),
    "50-300": ("50-300人", "50-299人", "300人以下", "50-300"),
    "300-500": ("300-500人", "300-499人", "300-500"),
    "gt500": ("500人以上", "500人及以上", "大于500人", "over 500", "500+"),
}
REVENUE_CHOICES = {
    "lt5m": ("500万以下", "500万元以下", "under 5 million"),
    "5m-50m": ("500万-5000万", "500万-5000万元", "5-50 million"),
    "50m-500m": ("5000万-5亿", "5000万-5亿元", "50-500 million"),
    "gt500m": ("5亿以上", "5亿元以上", "over 500 million"),
}
PRIORITY_CHOICES = {"S": ("s", "s级"), "A": ("a", "a级"), "B": ("b", "b级")}

CUSTOMER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "name",
        _("Customer name"),
        "客户名称",
        "Customer name",
        required=True,
        synonyms=(
            "公司名称",
            "企业名称",
            "单位名称",
            "客户",
            "公司",
            "企业",
            "客户全称",
            "公司全称",
            "company",
            "company name",
            "customer",
            "account name",
            "organization",
        ),
        example="上海华瑞精密机械有限公司",
    ),
    FieldSpec(
        "kind",
        _("Customer type"),
        "客户类型",
        "Customer type",
        type="choice",
        max_length=20,
        choices=KIND_CHOICES,
        synonyms=("类型", "type"),
        example="企业",
    ),
    FieldSpec(
        "credit_code",
        _("Unified social credit code"),
        "统一社会信用代码",
        "Credit code",
        type="credit_code",
        max_length=18,
        synonyms=(
            "信用代码",
            "社会信用代码",
            "税号",
            "纳税人识别号",
            "uscc",
            "unified social credit code",
        ),
        example="91310000MA1FL5LX3K",
    ),
    FieldSpec(
        "industry",
        _("Industry"),
        "所属行业",
        "Industry",
        type="industry",
        synonyms=("行业", "行业分类", "行业类别", "sector"),
        example="制造业-通用设备制造业",
    ),
    FieldSpec(
        "region",
        _("Region"),
        "所在地区",
        "Region",
        type="region",
        synonyms=(
            "地区",
            "区域",
            "城市",
            "省市",
            "所在城市",
            "所在省份",
            "省份",
            "city",
            "province",
        ),
        example="上海市",
    ),
    FieldSpec(
        "employees_band",
        _("Employees"),
        "客户规模",
        "Employees",
        type="choice",
        choices=EMPLOYEES_CHOICES,
        synonyms=("规模", "人员规模", "员工人数", "公司规模", "企业规模", "size", "company size"),
        example="300-500人",
    ),
    FieldSpec(
        "revenue_band",
        _("Annual revenue"),
        "年营业额",
        "Annual revenue",
        type="choice",
        choices=REVENUE_CHOICES,
        synonyms=("营业额", "年营收", "营收规模", "revenue"),
        example="5000万-5亿",
    ),
    FieldSpec(
        "source",
        _("Source"),
        "信息来源",
        "Source",
        type="choice",
        choices=SOURCE_CHOICES,
        synonyms=("来源", "客户来源", "线索来源", "渠道来源", "lead source"),
        example="行业展会",
    ),
    FieldSpec(
        "source_detail",
        _("Source detail"),
        "来源详情",
        "Source detail",
        synonyms=("来源说明", "来源备注"),
        example="展会-2024年3月上海行业展-展位A12",
    ),
    FieldSpec(
        "initial_need",
        _("Initial need"),
        "初步需求",
        "Initial need",
        max_length=5000,
        synonyms=("需求", "初步需求描述", "客户需求", "需求描述", "need", "needs", "requirement"),
        example="需要一套客户管理系统，预算约20万",
    ),
    FieldSpec(
        "address",
        _("Address"),
        "地址",
        "Address",
        max_length=300,
        synonyms=("公司地址", "详细地址", "办公地址", "联系地址"),
        example="上海市浦东新区张江路88号",
    ),
    FieldSpec(
        "website",
        _("Website"),
        "网站",
        "Website",
        type="url",
        max_length=300,
        synonyms=("官网", "公司网站", "网址", "homepage", "url"),
        example="https://www.example.cn",
    ),
    FieldSpec(
        "social_accounts",
        _("Social accounts"),
        "社交账号",
        "Social accounts",
        max_length=300,
        synonyms=("社交媒体账号", "公众号", "抖音号"),
    ),
    FieldSpec(
        "founded_on",
        _("Founding date"),
        "成立日期",
        "Founding date",
        type="date",
        synonyms=("成立时间", "注册日期", "成立", "founded", "founded on"),
        example="2015年5月20日",
    ),
    FieldSpec(
        "main_business",
        _("Main business"),
        "主营业务",
        "Main business",
        max_length=500,
        synonyms=("经营范围", "主营产品", "业务"),
    ),
    FieldSpec(
        "notes",
        _("Notes"),
        "备注",
        "Notes",
        max_length=10000,
        synonyms=("说明", "客户备注", "remark", "remarks", "comment", "comments"),
    ),
    FieldSpec(
        "competitors",
        _("Competitors"),
        "竞争对手",
        "Competitors",
        max_length=500,
        synonyms=("竞品", "竞争对手信息"),
    ),
    FieldSpec(
        "cooperation_history",
        _("Cooperation history"),
        "合作历史",
        "Cooperation history",
        max_length=5000,
        synonyms=("合作记录", "历史合作"),
    ),
    FieldSpec(
        "annual_budget",
        _("Annual budget (yuan)"),
        "年度预算(元)",
        "Annual budget",
        type="decimal",
        synonyms=("预算", "年度预算", "客户预算", "budget"),
        example="200000",
    ),
    FieldSpec(
        "status",
        _("Status"),
        "客户状态",
        "Status",
        type="choice",
        choices=STATUS_CHOICES,
        synonyms=("状态", "客户阶段"),
        example="意向客户",
    ),
    FieldSpec(
        "owner",
        _("Owner (user name)"),
        "负责人",
        "Owner",
        type="user",
        synonyms=("销售", "业务员", "客户经理", "归属人", "跟进人", "owner", "sales rep"),
    ),
    FieldSpec(
        "priority",
        _("Priority"),
        "优先级",
        "Priority",
        type="choice",
        choices=PRIORITY_CHOICES,
        synonyms=("跟进优先级",),
        example="A",
    ),
    FieldSpec(
        "tags",
        _("Tags"),
        "标签",
        "Tags",
        type="tags",
        max_length=1000,
        synonyms=("客户标签", "tag"),
        example="高意向客户,制造业",
    ),
    FieldSpec(
        "contact_name",
        _("Contact name"),
        "联系人",
        "Contact name",
        max_length=100,
        synonyms=("联系人姓名", "姓名", "联系人名称", "contact", "contact person", "name"),
        example="王伟",
        group="contact",
    ),
    FieldSpec(
        "contact_title",
        _("Contact title"),
        "职位",
        "Title",
        max_length=100,
        synonyms=("职务", "联系人职位", "岗位", "job title", "position"),
        example="采购经理",
        group="contact",
    ),
    FieldSpec(
        "contact_mobile",
        _("Mobile"),
        "手机",
        "Mobile",
        type="phone",
        max_length=32,
        synonyms=(
            "手机号",
            "手机号码",
            "电话",
            "联系电话",
            "联系方式",
            "移动电话",
            "mobile phone",
            "cell",
            "cellphone",
            "phone",
        ),
        example="13812345678",
        group="contact",
    ),
    FieldSpec(
        "contact_work_phone",
        _("Work phone"),
        "办公电话",
        "Work phone",
        type="phone",
        max_length=32,
        synonyms=("座机", "固定电话", "公司电话", "办公室电话", "tel", "telephone", "office phone"),
        example="021-61234567",
        group="contact",
    ),
    FieldSpec(
        "contact_email",
        _("Email"),
        "邮箱",
        "Email",
        type="email",
        max_length=254,
        synonyms=("电子邮箱", "电子邮件", "邮件", "email address", "e-mail", "mail"),
        example="wangwei@example.cn",
        group="contact",
    ),
    FieldSpec(
        "contact_wechat",
        _("WeChat"),
        "微信",
        "WeChat",
        max_length=64,
        synonyms=("微信号", "wechat id"),
        group="contact",
    ),
    FieldSpec(
        "contact_is_decision_maker",
        _("Decision maker"),
        "是否决策人",
        "Decision maker",
        type="bool",
        synonyms=("决策人", "关键决策人", "decision-maker"),
        example="是",
        group="contact",
    ),
    FieldSpec(
        "contact_mobile_reason",
        _("Reason for the mobile"),
        "手机号说明",
        "Mobile reason",
        max_length=300,
        synonyms=("手机原因", "手机说明", "mobile note"),
        example="公司配发手机",
        group="contact",
    ),
)


# --- leads, opportunities, follow-ups --------------------------------------------------------
LEAD_STATUS_CHOICES = {
    "pool": ("线索池", "待分配", "未分配", "公海", "pool"),
    "assigned": ("已分配", "待确认", "已分配待确认", "assigned"),
    "confirmed": ("已确认", "确认可联系", "有效", "confirmed"),
}
URGENCY_CHOICES = {
    "low": ("低", "不急", "low"),
    "medium": ("中", "一般", "普通", "medium"),
    "high": ("高", "紧急", "急", "high"),
}
METHOD_CHOICES = {
    "phone": ("电话", "电话沟通", "打电话", "电话联系", "phone", "call"),
    "email": ("邮件", "电子邮件", "发邮件", "email", "e-mail"),
    "visit": ("拜访", "上门拜访", "面谈", "当面拜访", "visit"),
    "online_meeting": ("线上会议", "视频会议", "在线会议", "腾讯会议", "online meeting"),
    "wechat": ("微信", "微信沟通", "wechat"),
    "other": ("其他", "其它", "other"),
}
SENTIMENT_CHOICES = {
    "positive": ("积极", "正面", "满意", "positive"),
    "neutral": ("中性", "一般", "neutral"),
    "negative": ("消极", "负面", "不满意", "negative"),
}
CUSTOMER_REFERENCE_SYNONYMS = (
    "客户",
    "客户名称",
    "客户编号",
    "公司名称",
    "企业名称",
    "所属客户",
    "关联客户",
    "统一社会信用代码",
    "customer name",
    "customer number",
    "company",
    "account",
)
# The column that names a record's customer (number, credit code or exact name, in scope)
CUSTOMER_REFERENCE = FieldSpec(
    "customer",
    _("Customer"),
    "客户",
    "Customer",
    type="customer",
    required=True,
    synonyms=CUSTOMER_REFERENCE_SYNONYMS,
    example="上海华瑞精密机械有限公司",
    group="record",
)


def _owner(zh: str, en: str, *synonyms: str) -> FieldSpec:
    return FieldSpec(
        "owner", _("Owner (user name)"), zh, en, type="user", synonyms=synonyms, group="record"
    )


LEAD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "company_name",
        _("Lead name (company)"),
        "线索名称",
        "Lead name",
        synonyms=(
            "公司名称",
            "企业名称",
            "客户名称",
            "单位名称",
            "公司",
            "company",
            "company name",
        ),
        example="杭州明辉精工科技有限公司",
        group="record",
    ),
    FieldSpec(
        "contact_name",
        _("Contact name"),
        "联系人",
        "Contact name",
        max_length=100,
        required=True,
        synonyms=("联系人姓名", "姓名", "客户姓名", "contact", "contact person", "name"),
        example="李娜",
        group="record",
    ),
    FieldSpec(
        "mobile",
        _("Mobile"),
        "手机",
        "Mobile",
        type="phone",
        max_length=32,
        synonyms=("手机号", "手机号码", "电话", "联系电话", "联系方式", "mobile phone", "phone"),
        example="13912345678",
        group="record",
    ),
    FieldSpec(
        "email",
        _("Email"),
        "邮箱",
        "Email",
        type="email",
        max_length=254,
        synonyms=("电子邮箱", "电子邮件", "邮件", "email address", "e-mail", "mail"),
        example="lina@example.cn",
        group="record",
    ),
    FieldSpec(
        "source",
        _("Source"),
        "来源",
        "Source",
        type="choice",
        required=True,
        choices=SOURCE_CHOICES,
        synonyms=("线索来源", "信息来源", "渠道", "渠道来源", "lead source"),
        example="官网留言",
        group="record",
    ),
    FieldSpec(
        "source_detail",
        _("Source detail"),
        "来源详情",
        "Source detail",
        synonyms=("来源说明", "来源备注", "活动", "活动名称", "campaign"),
        example="2024年春季展会",
        group="record",
    ),
    FieldSpec(
        "priority",
        _("Priority"),
        "优先级",
        "Priority",
        type="choice",
        max_length=1,
        choices=PRIORITY_CHOICES,
        synonyms=("线索等级", "等级", "级别"),
        example="A",
        group="record",
    ),
    FieldSpec(
        "urgency",
        _("Urgency"),
        "紧急程度",
        "Urgency",
        type="choice",
        choices=URGENCY_CHOICES,
        synonyms=("紧急度", "紧迫程度", "urgent"),
        example="中",
        group="record",
    ),
    FieldSpec(
        "status",
        _("Status"),
        "线索状态",
        "Status",
        type="choice",
        choices=LEAD_STATUS_CHOICES,
        synonyms=("状态",),
        example="线索池",
        group="record",
    ),
    FieldSpec(
        "region",
        _("Region"),
        "所在地区",
        "Region",
        type="region",
        synonyms=("地区", "区域", "城市", "省市", "省份", "city", "province"),
        example="浙江省",
        group="record",
    ),
    FieldSpec(
        "industry",
        _("Industry"),
        "所属行业",
        "Industry",
        type="industry",
        synonyms=("行业", "行业分类", "sector"),
        example="软件和信息技术服务业",
        group="record",
    ),
    FieldSpec(
        "need",
        _("Need"),
        "需求",
        "Need",
        max_length=5000,
        synonyms=("需求描述", "客户需求", "初步需求", "留言", "备注", "needs", "requirement"),
        example="想了解CRM系统报价",
        group="record",
    ),
    FieldSpec(
        "estimated_value",
        _("Estimated value (yuan)"),
        "预计金额",
        "Estimated value",
        type="decimal",
        synonyms=("预估金额", "金额", "预算", "预计价值", "budget", "value"),
        example="20万",
        group="record",
    ),
    _owner(
        "负责人", "Owner", "分配给", "销售", "业务员", "跟进人", "owner", "assignee", "sales rep"
    ),
)

OPPORTUNITY_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "name",
        _("Opportunity name"),
        "商机名称",
        "Opportunity name",
        required=True,
        synonyms=("机会名称", "销售机会", "商机", "项目名称", "项目", "opportunity", "deal"),
        example="2024年CRM系统采购",
        group="record",
    ),
    CUSTOMER_REFERENCE,
    FieldSpec(
        "stage",
        _("Stage"),
        "阶段",
        "Stage",
        type="stage",
        max_length=40,
        synonyms=("商机阶段", "销售阶段", "当前阶段", "stage name", "sales stage"),
        example="需求分析",
        group="record",
    ),
    FieldSpec(
        "amount",
        _("Expected amount (yuan)"),
        "金额",
        "Amount",
        type="decimal",
        synonyms=("预计金额", "商机金额", "预计成交金额", "合同金额", "expected amount", "value"),
        example="20万",
        group="record",
    ),
    FieldSpec(
        "expected_close",
        _("Expected close date"),
        "预计成交日期",
        "Expected close date",
        type="date",
        synonyms=("预计成交时间", "预计签约日期", "成交日期", "close date", "expected close"),
        example="2025年6月30日",
        group="record",
    ),
    FieldSpec(
        "source",
        _("Source"),
        "来源",
        "Source",
        type="choice",
        choices=SOURCE_CHOICES,
        synonyms=("商机来源", "信息来源", "lead source"),
        example="客户推荐",
        group="record",
    ),
    FieldSpec(
        "needs",
        _("Products / needs"),
        "需求",
        "Needs",
        max_length=5000,
        synonyms=("产品", "产品需求", "需求描述", "客户需求", "products"),
        example="销售管理模块，50个账号",
        group="record",
    ),
    FieldSpec(
        "competitors",
        _("Competitors"),
        "竞争对手",
        "Competitors",
        max_length=500,
        synonyms=("竞品", "竞争对手信息"),
        group="record",
    ),
    FieldSpec(
        "next_step",
        _("Next step"),
        "下一步",
        "Next step",
        max_length=300,
        synonyms=("下一步计划", "下一步行动", "下步计划"),
        example="安排产品演示",
        group="record",
    ),
    _owner("负责人", "Owner", "销售", "业务员", "商机负责人", "owner", "sales rep"),
)

FOLLOWUP_FIELDS: tuple[FieldSpec, ...] = (
    CUSTOMER_REFERENCE,
    FieldSpec(
        "occurred_at",
        _("Follow-up time"),
        "跟进时间",
        "Follow-up time",
        type="datetime",
        required=True,
        synonyms=("跟进日期", "沟通时间", "联系时间", "拜访时间", "时间", "日期", "date", "time"),
        example="2024-05-20 14:30",
        group="record",
    ),
    FieldSpec(
        "method",
        _("Method"),
        "跟进方式",
        "Method",
        type="choice",
        required=True,
        choices=METHOD_CHOICES,
        synonyms=("沟通方式", "联系方式", "方式", "跟进类型", "contact method"),
        example="电话",
        group="record",
    ),
    FieldSpec(
        "content",
        _("Content"),
        "跟进内容",
        "Content",
        required=True,
        max_length=10000,
        synonyms=("沟通内容", "内容", "跟进记录", "跟进情况", "沟通记录", "notes", "summary"),
        example="介绍了产品功能，客户关注价格",
        group="record",
    ),
    FieldSpec(
        "contact",
        _("Contact"),
        "联系人",
        "Contact",
        max_length=100,
        synonyms=("联系人姓名", "对接人", "contact person"),
        example="王伟",
        group="record",
    ),
    FieldSpec(
        "sentiment",
        _("Customer feedback"),
        "客户反馈",
        "Feedback",
        type="choice",
        choices=SENTIMENT_CHOICES,
        synonyms=("反馈", "客户态度", "态度", "sentiment"),
        example="中性",
        group="record",
    ),
    FieldSpec(
        "sentiment_reason",
        _("Feedback reason"),
        "反馈原因",
        "Feedback reason",
        max_length=500,
        synonyms=("原因", "反馈说明"),
        group="record",
    ),
    FieldSpec(
        "next_step_on",
        _("Next follow-up date"),
        "下次跟进",
        "Next follow-up",
        type="date",
        synonyms=("下次跟进时间", "下次跟进日期", "下次联系时间", "next follow-up date"),
        group="record",
    ),
    FieldSpec(
        "next_step_action",
        _("Next step"),
        "下一步",
        "Next step",
        max_length=300,
        synonyms=("下次跟进内容", "下次跟进事项", "下一步计划", "下一步行动"),
        group="record",
    ),
    FieldSpec(
        "author",
        _("Followed up by (user name)"),
        "跟进人",
        "Followed up by",
        type="user",
        synonyms=("跟进人员", "记录人", "负责人", "销售", "业务员", "author", "sales rep"),
        example="wangwei",
        group="record",
    ),
    FieldSpec(
        "next_step_owner",
        _("Next step owner (user name)"),
        "下一步负责人",
        "Next step owner",
        type="user",
        synonyms=("跟进负责人", "下次跟进人"),
        group="record",
    ),
)

# --- service tickets (服务工单) ------------------------------------------------------------------
TICKET_TYPE_CHOICES = {
    "consultation": ("产品咨询", "咨询", "使用咨询", "product question", "consultation"),
    "support": ("技术支持", "故障", "报修", "维修", "售后维修", "technical support", "support"),
    "improvement": ("服务改进", "建议", "改进建议", "需求", "service improvement", "suggestion"),
    "complaint": ("投诉", "客户投诉", "complaint"),
}
TICKET_PRIORITY_CHOICES = {
    "high": ("高", "紧急", "急", "高优先级", "high", "urgent"),
    "medium": ("中", "一般", "普通", "中优先级", "medium", "normal"),
    "low": ("低", "不急", "低优先级", "low"),
}
# The ticket's channel as Kehu knows it; calls, visits and chats are entered by staff.
TICKET_CHANNEL_CHOICES = {
    "ui": ("员工录入", "人工录入", "电话", "来电", "400电话", "上门", "现场", "微信", "staff"),
    "email": ("邮件", "电子邮件", "邮箱", "email", "e-mail"),
    "web_form": ("网页表单", "表单", "官网", "在线表单", "web form", "website"),
    "api": ("API", "接口", "系统对接"),
}
# 新建/已分配: open, left as the service's routing makes it (assigned when someone is)
TICKET_STATUS_CHOICES = {
    "new": ("新建", "待处理", "未处理", "待分配", "打开", "open", "new"),
    "assigned": ("已分配", "已派单", "assigned"),
    "in_progress": ("处理中", "进行中", "跟进中", "in progress"),
    "waiting": ("等待客户", "待客户反馈", "等待反馈", "挂起", "waiting", "pending"),
    "resolved": ("已解决", "已处理", "已完成", "resolved", "solved", "done"),
    "closed": ("已关闭", "关闭", "已结单", "结单", "closed"),
}

TICKET_FIELDS: tuple[FieldSpec, ...] = (
    CUSTOMER_REFERENCE,
    FieldSpec(
        "subject",
        pgettext_lazy("ticket import", "Subject"),
        "标题",
        "Subject",
        required=True,
        synonyms=("工单标题", "主题", "问题", "问题标题", "title", "summary"),
        example="设备主轴温度报警",
        group="record",
    ),
    FieldSpec(
        "content",
        pgettext_lazy("ticket import", "Description"),
        "问题描述",
        "Description",
        required=True,
        max_length=20000,
        synonyms=("描述", "内容", "详细描述", "问题详情", "工单内容", "description", "details"),
        example="主轴温度过高，设备自动停机。",
        group="record",
    ),
    FieldSpec(
        "ticket_type",
        pgettext_lazy("ticket import", "Ticket type"),
        "工单类型",
        "Type",
        type="choice",
        choices=TICKET_TYPE_CHOICES,
        synonyms=("类型", "问题类型", "问题分类", "分类", "类别", "category", "ticket type"),
        example="技术支持",
        group="record",
    ),
    FieldSpec(
        "priority",
        pgettext_lazy("ticket import", "Priority"),
        "优先级",
        "Priority",
        type="choice",
        choices=TICKET_PRIORITY_CHOICES,
        synonyms=("紧急程度", "级别", "priority level"),
        example="高",
        group="record",
    ),
    FieldSpec(
        "channel",
        pgettext_lazy("ticket import", "Channel"),
        "来源渠道",
        "Channel",
        type="choice",
        choices=TICKET_CHANNEL_CHOICES,
        synonyms=("渠道", "来源", "受理渠道", "报修渠道", "source", "channel"),
        example="员工录入",
        group="record",
    ),
    FieldSpec(
        "status",
        pgettext_lazy("ticket import", "Status"),
        "工单状态",
        "Status",
        type="choice",
        choices=TICKET_STATUS_CHOICES,
        synonyms=("状态", "处理状态", "ticket status"),
        example="已解决",
        group="record",
    ),
    FieldSpec(
        "raised_at",
        pgettext_lazy("ticket import", "Created"),
        "创建时间",
        "Created",
        type="datetime",
        synonyms=(
            "创建日期",
            "提出时间",
            "报修时间",
            "受理时间",
            "提交时间",
            "登记时间",
            "created",
            "created at",
            "date",
        ),
        example="2024-05-20 14:30",
        group="record",
    ),
    FieldSpec(
        "resolved_at",
        pgettext_lazy("ticket import", "Resolved"),
        "解决时间",
        "Resolved",
        type="datetime",
        synonyms=("解决日期", "完成时间", "关闭时间", "结单时间", "resolved", "resolved at"),
        example="2024-05-21 10:00",
        group="record",
    ),
    FieldSpec(
        "assignee",
        _("Person responsible (user name)"),
        "处理人",
        "Assignee",
        type="user",
        synonyms=("负责人", "受理人", "客服", "服务人员", "工程师", "assignee", "agent"),
        example="zhangsan",
        group="record",
    ),
    FieldSpec(
        "contact",
        _("Contact"),
        "联系人",
        "Contact",
        max_length=100,
        synonyms=("联系人姓名", "报修人", "提交人", "对接人", "contact person", "requester"),
        example="王伟",
        group="record",
    ),
    FieldSpec(
        "product",
        pgettext_lazy("ticket import", "Product"),
        "产品",
        "Product",
        max_length=100,
        synonyms=("产品名称", "产品型号", "product name"),
        example="CNC-5000",
        group="record",
    ),
)

# --- contacts of existing customers ------------------------------------------------------------
GENDER_CHOICES = {
    "m": ("先生", "男", "男士", "mr", "mr.", "male", "m"),
    "f": ("女士", "女", "小姐", "ms", "ms.", "mrs", "female", "f"),
}


def _contact_spec(key: str, **changes: Any) -> FieldSpec:
    """A contact column of the customer import, as a column of the contacts import."""
    spec = next(spec for spec in CUSTOMER_FIELDS if spec.key == key)
    return replace(spec, group="record", **changes)


CONTACT_FIELDS: tuple[FieldSpec, ...] = (
    # business-card apps and old CRMs name the contact's company
    replace(
        CUSTOMER_REFERENCE,
        synonyms=(*CUSTOMER_REFERENCE_SYNONYMS, "公司", "单位", "单位名称", "工作单位", "所属公司"),
    ),
    _contact_spec("contact_name", required=True),
    FieldSpec(
        "contact_gender",
        _("Form of address"),
        "性别",
        "Gender",
        type="choice",
        max_length=1,
        choices=GENDER_CHOICES,
        synonyms=("称呼", "先生/女士", "sex", "salutation"),
        example="先生",
        group="record",
    ),
    _contact_spec("contact_title"),
    _contact_spec("contact_mobile"),
    _contact_spec("contact_work_phone"),
    _contact_spec("contact_email"),
    _contact_spec("contact_wechat"),
    _contact_spec("contact_is_decision_maker"),
    FieldSpec(
        "contact_is_primary",
        _("Primary contact"),
        "主要联系人",
        "Primary",
        type="bool",
        synonyms=("是否主要联系人", "首要联系人", "primary contact"),
        example="否",
        group="record",
    ),
    _contact_spec("contact_mobile_reason"),
    FieldSpec(
        "contact_notes",
        _("Notes"),
        "备注",
        "Notes",
        max_length=1000,
        synonyms=("说明", "联系人备注", "remark", "remarks", "comment", "comments"),
        group="record",
    ),
)

KINDS: dict[str, tuple[FieldSpec, ...]] = {
    "customers": CUSTOMER_FIELDS,
    "contacts": CONTACT_FIELDS,
    "leads": LEAD_FIELDS,
    "opportunities": OPPORTUNITY_FIELDS,
    "followups": FOLLOWUP_FIELDS,
    "tickets": TICKET_FIELDS,
}


# The import kinds whose records have custom fields (自定义字段), and their record kind.
CUSTOM_KINDS = {
    "customers": "customer",
    "contacts": "contact",
    "leads": "lead",
    "opportunities": "opportunity",
    "tickets": "ticket",
}


def fields_for(kind: str, user: Any = None) -> tuple[FieldSpec, ...]:
    """The importable fields of ``kind``: the built-in ones, then the custom fields (those
    ``user`` may edit when given), keyed ``custom.<key>``."""
    custom_kind = CUSTOM_KINDS.get(kind)
    if custom_kind is None:
        return KINDS[kind]
    specs = (
        custom_fields.fields_for(custom_kind, user, editable=True)
        if user is not None
        else custom_fields.fields_for(custom_kind)
    )
    return KINDS[kind] + tuple(_custom_spec(spec, kind) for spec in specs)


def _custom_spec(spec: custom_fields.FieldSpec, kind: str) -> FieldSpec:
    return FieldSpec(
        spec.name,
        spec.label,
        spec.label_zh,
        spec.label_en or spec.key,
        type="user" if spec.type == custom_fields.USER else "custom",
        max_length=custom_fields.MAX_LONG_TEXT
        if spec.type == custom_fields.LONG_TEXT
        else custom_fields.MAX_TEXT,
        required=spec.required,
        synonyms=tuple(name for name in (spec.key, spec.label_en) if name),
        example=spec.choices[0] if spec.choices else "",
        group="customer" if kind == "customers" else "record",
        custom=spec,
    )


def spec_map(kind: str) -> dict[str, FieldSpec]:
    return {spec.key: spec for spec in fields_for(kind)}
