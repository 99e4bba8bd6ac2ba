"""Demo tickets (``kehu demo``), after the customers handed to service (step 35).

The won customers handed to each service user (shared by the customers' step, or with a
confirmed handover by the handovers' step) are the book of tickets. Shared ones without a
handover get a completed handover (服务交接单) from their sales owner, confirmed by the
specialist, so they are in the specialist's scope as the product makes them; a few other
won customers have a handover still awaiting
confirmation or being drafted. The handed customers then raise tickets of the four types over
the last weeks, in every state of the flow (新建 → 已分配 → 处理中 → 等待客户 → 已解决 → 已关闭):
the SLA clock started by ``services.sla`` from the time raised, replies and internal notes,
some tickets past their due time, surveys answered with a score. Two e-mails from unknown
senders wait in triage. Rows are written in bulk, with realistic times.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Role, User
from kehu.core import bulk
from kehu.core.demo import DemoRun, DemoStep
from kehu.customers import numbering
from kehu.customers.models import Customer, CustomerShare, CustomerStatus
from kehu.service.models import (
    Handover,
    HandoverStatus,
    MessageKind,
    Survey,
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketEventKind,
    TicketMessage,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from kehu.service.services import sla

PRODUCTS = ["客户管理系统 标准版", "客户管理系统 企业版", "移动端 App", "数据接口 API"]

# (subject, content) per ticket type
REQUESTS: dict[str, list[tuple[str, str]]] = {
    TicketType.CONSULTATION: [
        (
            "企业版与标准版的功能区别",
            "我们计划明年扩大销售团队，想了解企业版比标准版多了哪些功能，价格怎么算？",
        ),
        (
            "能否按部门分别设置权限",
            "请问系统是否支持按部门设置查看权限？我们华北和华南两个团队的数据需要分开。",
        ),
        (
            "数据导入支持哪些格式",
            "我们有约两万条历史客户数据在 Excel 里，请问导入支持 xlsx 吗？有没有模板？",
        ),
        (
            "移动端是否支持离线使用",
            "销售经常去工厂拜访，信号不好，想确认 App 能否离线记录跟进，联网后再同步。",
        ),
    ],
    TicketType.SUPPORT: [
        (
            "登录时提示验证码错误",
            "今天上午开始，我们有三位同事登录时一直提示验证码错误，清理缓存后仍然不行，麻烦尽快处理。",
        ),
        (
            "导出报表时间过长",
            "导出本季度销售报表要等十几分钟，之前只要一分钟左右，影响月底对账，请帮忙排查。",
        ),
        (
            "API 接口返回 500 错误",
            "我们的 ERP 调用客户同步接口时偶尔返回 500，附上请求时间：昨天 14:32 和 16:05。",
        ),
        ("手机 App 无法上传附件", "安卓手机上传合同照片时一直转圈，最后提示失败，iPhone 上正常。"),
        ("邮件提醒没有收到", "跟进任务到期的邮件提醒这周都没有收到，垃圾箱里也没有，请检查一下。"),
    ],
    TicketType.IMPROVEMENT: [
        (
            "希望增加批量转移客户功能",
            "销售离职交接时要一个个转移客户，希望能按条件批量转移，并保留原跟进记录。",
        ),
        (
            "建议报表支持按周对比",
            "管理层希望看到本周与上周的新增客户和成交金额对比，目前只能按月看。",
        ),
        (
            "客户详情页加载慢希望优化",
            "客户详情页打开要三四秒，跟进记录多的客户更慢，希望能优化一下体验。",
        ),
    ],
    TicketType.COMPLAINT: [
        ("服务响应太慢", "上周提的问题三天才有人回复，我们的业务受到影响，希望贵司重视响应时效。"),
        (
            "升级后数据显示异常",
            "周末系统升级后，部分客户的联系人电话显示为空，销售无法联系客户，非常不满意。",
        ),
        (
            "培训安排多次变更",
            "约定的上线培训已经改期两次，我们的同事都请了假配合，请给一个明确的安排。",
        ),
    ],
}
REPLIES = [
    "您好，问题已收到，我们正在排查，预计今天下班前给您答复。",
    "您好，已定位到原因，是缓存配置问题，已经修复，请您再试一下。",
    "感谢反馈，这个需求已经记录并提交给产品团队评估，有进展会第一时间通知您。",
    "您好，操作说明和导入模板已发到您邮箱，如有疑问随时联系我。",
    "非常抱歉给您带来不便，我们已安排专人跟进，并会在本周内上门沟通。",
]
FOLLOW_UPS = [
    "谢谢，试了一下已经可以了。",
    "收到，麻烦尽快，我们月底要用。",
    "还是不行，截图发给您了，请再看看。",
    "好的，等你们的消息。",
]
NOTES = [
    "已联系研发确认，属于已知问题，下个版本修复。",
    "客户是 A 级客户，注意响应时效。",
    "需要客户提供日志文件，已在回复中说明。",
    "与销售负责人沟通过，客户对价格敏感，回复时注意措辞。",
]
SURVEY_COMMENTS = ["", "", "处理很及时，谢谢！", "问题解决了，但等待时间有点长。", "客服态度很好。"]
UNKNOWN_SENDERS = [
    (
        "周先生",
        "zhou.xs@163.com",
        "咨询系统报价",
        "你好，我在官网看到你们的产品，想了解一下 50 人规模的报价。",
    ),
    ("", "it-support@hzmc-tech.cn", "账号被锁定", "我们公司的管理员账号被锁定了，请协助解锁。"),
]
# The state each ticket ends in, and how many of twenty do
STATES = [
    (TicketStatus.NEW, 2),
    (TicketStatus.ASSIGNED, 3),
    (TicketStatus.IN_PROGRESS, 4),
    (TicketStatus.WAITING, 2),
    (TicketStatus.RESOLVED, 3),
    (TicketStatus.CLOSED, 6),
]
TICKETS_PER_CUSTOMER = (1, 4)
PENDING_HANDOVERS = 2  # other won customers whose handover awaits the specialist
SURVEY_DAYS = 7
TICKET_HISTORY_DAYS = 45  # closed tickets were raised within the last six weeks (``_raised``)


@dataclass
class _Batch:
    """Rows built in memory, written at the end in bulk."""

    tickets: list[Ticket] = field(default_factory=list)
    messages: list[list[TicketMessage]] = field(default_factory=list)
    events: list[list[TicketEvent]] = field(default_factory=list)
    surveys: list[Survey | None] = field(default_factory=list)


def generate_service(*, users: list[User], seed: int, now: datetime | None = None) -> str:
    """Handovers and tickets for the customers handed to the demo's service users."""
    now = now or timezone.now()
    rng = random.Random(seed)
    service_users = [user for user in users if user.role == Role.SERVICE]
    if not service_users:
        return "no service user for tickets"
    with transaction.atomic():
        _backdate_handovers(rng, service_users, now)
        handovers = _handovers(rng, service_users, now)
        made = _tickets(rng, service_users, now)
    return f"{handovers} service handovers, {made} tickets"


def _backdate_handovers(rng: random.Random, service_users: list[User], now: datetime) -> None:
    """Handovers completed by the handovers' step (through the services, so just now) are
    moved back to 30-90 days ago: the tickets of the last six weeks come after them."""
    recent = Handover.objects.filter(
        specialist__in=service_users,
        status=HandoverStatus.COMPLETED,
        confirmed_at__gt=now - timedelta(days=TICKET_HISTORY_DAYS),
    ).values_list("pk", "created_at", "confirmed_at")
    for pk, created_at, confirmed_at in list(recent):
        assert confirmed_at is not None
        shift = confirmed_at - (now - timedelta(days=rng.randint(TICKET_HISTORY_DAYS, 90)))
        Handover.objects.filter(pk=pk).update(
            created_at=created_at - shift,
            submitted_at=F("submitted_at") - shift,
            confirmed_at=confirmed_at - shift,
        )


def _handed(user: User) -> list[Customer]:
    """The customers handed to ``user``: by a completed handover, or shared with them (the
    customers app's own demo step 35 shares them; the handovers' step confirms handovers)."""
    shared = CustomerShare.objects.filter(user=user).values("customer_id")
    confirmed = Handover.objects.filter(specialist=user, status=HandoverStatus.COMPLETED).values(
        "customer_id"
    )
    return list(
        Customer.objects.filter(Q(pk__in=shared) | Q(pk__in=confirmed), owner__isnull=False)
        .select_related("owner")
        .order_by("pk")
    )


def _handovers(rng: random.Random, service_users: list[User], now: datetime) -> int:
    rows: list[Handover] = []
    taken = set(Handover.objects.values_list("customer_id", flat=True))
    for user in service_users:
        for customer in _handed(user):
            if customer.pk in taken:
                continue
            taken.add(customer.pk)
            assert customer.owner is not None
            drafted = now - timedelta(
                days=rng.randint(TICKET_HISTORY_DAYS + 5, 90), hours=rng.randint(0, 8)
            )
            submitted = drafted + timedelta(hours=rng.randint(1, 30))
            rows.append(
                _handover(rng, customer, user, HandoverStatus.COMPLETED, drafted, submitted)
            )
            rows[-1].confirmed_at = submitted + timedelta(minutes=rng.randint(20, 600))
    others = (
        Customer.objects.filter(status=CustomerStatus.WON, owner__isnull=False)
        .exclude(pk__in=taken)
        .select_related("owner")
        .order_by("-pk")[: PENDING_HANDOVERS + 1]
    )
    for index, customer in enumerate(others):
        drafted = now - timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 8))
        if index < PENDING_HANDOVERS:
            submitted = drafted + timedelta(hours=rng.randint(1, 6))
            rows.append(
                _handover(
                    rng, customer, service_users[index % len(service_users)],
                    HandoverStatus.PENDING, drafted, submitted,
                )
            )  # fmt: skip
        else:
            rows.append(_handover(rng, customer, None, HandoverStatus.DRAFT, drafted, None))
    created = Handover.objects.bulk_create(rows)
    bulk.copy_to_history(
        Handover, [row.pk for row in created], reason=_("Demo data"), user_column="owner_id"
    )
    return len(created)


def _handover(
    rng: random.Random,
    customer: Customer,
    specialist: User | None,
    status: str,
    drafted: datetime,
    submitted: datetime | None,
) -> Handover:
    owner = customer.owner
    assert owner is not None
    product = rng.choice(PRODUCTS)
    return Handover(
        customer=customer,
        owner=owner,
        department_id=owner.department_id,
        status=status,
        needs=rng.choice(
            [
                "统一管理全国客户资料，销售跟进过程可追溯，管理层每周看报表。",
                "替换现有 Excel 台账，与 ERP 同步客户和订单数据。",
                "移动端拜访签到和跟进记录，区域经理审批报价。",
            ]
        ),
        service_content=f"{product}：上线实施、两次培训、一年运维支持。",
        response_hours=rng.choice([2, 4]),
        resolution_hours=rng.choice([24, 48]),
        contract_terms="合同期一年，到期前 30 天提醒续约；数据迁移由我方负责。",
        special_notes=rng.choice(
            ["偏好邮件沟通。", "决策人为采购总监，技术对接人为 IT 主管。", ""]
        ),
        product=product,
        specialist=specialist,
        submitted_at=submitted,
        created_at=drafted,
    )


def _tickets(rng: random.Random, service_users: list[User], now: datetime) -> int:
    batch = _Batch()
    states = [status for status, weight in STATES for _n in range(weight)]
    for user in service_users:
        for customer in _handed(user):
            contact = customer.contacts.filter(is_active=True).order_by("-is_primary", "pk").first()
            for _n in range(rng.randint(*TICKETS_PER_CUSTOMER)):
                _ticket(rng, batch, customer, contact, user, rng.choice(states), now)
    triage_department = service_users[0].department_id
    for name, email, subject, content in UNKNOWN_SENDERS:
        raised = now - timedelta(minutes=rng.randint(10, 90))
        ticket = Ticket(
            customer=None,
            requester_name=name,
            requester_email=email,
            subject=subject,
            content=content,
            ticket_type=TicketType.CONSULTATION,
            priority=TicketPriority.MEDIUM,
            status=TicketStatus.NEW,
            channel=TicketChannel.EMAIL,
            raised_at=raised,
            department_id=triage_department,
            created_at=raised,
        )
        sla.sla_start(ticket, now=raised)
        batch.tickets.append(ticket)
        inbound = TicketMessage(
            kind=MessageKind.INBOUND, sender=email, body=content, created_at=raised
        )
        batch.messages.append([inbound])
        batch.events.append([TicketEvent(kind=TicketEventKind.CREATED, at=raised)])
        batch.surveys.append(None)
    _number(batch.tickets)
    return _write(batch)


def _ticket(
    rng: random.Random,
    batch: _Batch,
    customer: Customer,
    contact: Any,
    agent: User,
    status: str,
    now: datetime,
) -> None:
    ticket_type = rng.choice(list(REQUESTS))
    subject, content = rng.choice(REQUESTS[ticket_type])
    priority = TicketPriority.HIGH if ticket_type == TicketType.COMPLAINT else None
    priority = priority or rng.choices(list(TicketPriority), weights=[2, 5, 3])[0]
    raised = _raised(rng, status, now)
    sender = getattr(contact, "email", "") or f"service@{customer.number.lower()}.example.cn"
    ticket = Ticket(
        customer=customer,
        contact=contact,
        requester_name=getattr(contact, "name", ""),
        requester_email=sender,
        subject=subject,
        content=content,
        ticket_type=ticket_type,
        priority=priority,
        product=rng.choice(PRODUCTS),
        status=status,
        channel=rng.choice([TicketChannel.EMAIL, TicketChannel.EMAIL, TicketChannel.UI]),
        raised_at=raised,
        department_id=agent.department_id,
        assignee=None if status == TicketStatus.NEW else agent,
        created_at=raised,
        created_by=None if rng.random() < 0.6 else agent,
    )
    sla.sla_start(ticket, now=raised)
    messages = [
        TicketMessage(kind=MessageKind.INBOUND, sender=sender, body=content, created_at=raised)
    ]
    events = [TicketEvent(kind=TicketEventKind.CREATED, actor=ticket.created_by, at=raised)]
    survey: Survey | None = None
    if status != TicketStatus.NEW:
        assigned = raised + timedelta(minutes=rng.randint(1, 20))
        events.append(
            TicketEvent(
                kind=TicketEventKind.ASSIGNED,
                from_status=TicketStatus.NEW,
                to_status=TicketStatus.ASSIGNED,
                data={"assignee": agent.pk},
                at=assigned,
            )
        )
    responded = status not in (TicketStatus.NEW, TicketStatus.ASSIGNED)
    if responded:
        # most first replies within the promise, one in five late
        late = rng.random() < 0.2
        due = ticket.response_due_at or raised + timedelta(hours=2)
        span = (due - raised).total_seconds()
        first = raised + timedelta(
            seconds=span * (rng.uniform(1.1, 3) if late else rng.uniform(0.1, 0.9))
        )
        first = min(first, now - timedelta(minutes=5))
        sla.sla_record_response(ticket, now=first)
        if ticket.response_due_at and first > ticket.response_due_at:
            ticket.response_breached_at = ticket.response_due_at
        messages.append(_reply(rng, agent, first))
        events.append(
            TicketEvent(
                kind=TicketEventKind.STATUS,
                actor=agent,
                from_status=TicketStatus.ASSIGNED,
                to_status=TicketStatus.IN_PROGRESS,
                at=first,
            )
        )
        if rng.random() < 0.5:
            messages.append(
                TicketMessage(
                    kind=MessageKind.NOTE,
                    author=agent,
                    body=rng.choice(NOTES),
                    created_at=first + timedelta(minutes=rng.randint(1, 30)),
                )
            )
    if status == TicketStatus.WAITING:
        paused = min(messages[-1].created_at + timedelta(minutes=5), now - timedelta(minutes=1))
        sla.sla_pause(ticket, now=paused)
        events.append(_status(agent, TicketStatus.IN_PROGRESS, TicketStatus.WAITING, paused))
    if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        last = messages[-1].created_at
        if rng.random() < 0.5:
            answer = last + timedelta(minutes=rng.randint(30, 600))
            messages.append(
                TicketMessage(
                    kind=MessageKind.INBOUND,
                    sender=sender,
                    body=rng.choice(FOLLOW_UPS),
                    created_at=answer,
                )
            )
            messages.append(_reply(rng, agent, answer + timedelta(minutes=rng.randint(10, 120))))
            last = messages[-1].created_at
        # a resolution within the due time mostly; one in six late
        due = ticket.resolution_due_at or raised + timedelta(days=1)
        resolved = last + timedelta(minutes=rng.randint(10, 240))
        if rng.random() < 1 / 6:
            resolved = max(resolved, due + timedelta(hours=rng.randint(1, 30)))
        resolved = min(resolved, now - timedelta(minutes=2))
        sla.sla_record_resolution(ticket, now=resolved)
        if ticket.resolution_due_at and resolved > ticket.resolution_due_at:
            ticket.resolution_breached_at = ticket.resolution_due_at
        events.append(_status(agent, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, resolved))
        survey = Survey(
            customer=customer,
            nonce=secrets.token_hex(16),
            sent_to=sender,
            sent_at=resolved,
            expires_at=resolved + timedelta(days=SURVEY_DAYS),
        )
        if status == TicketStatus.CLOSED:
            score = rng.choices([5, 4, 3, 2, 1], weights=[45, 30, 13, 8, 4])[0]
            answered = min(
                resolved + timedelta(hours=rng.randint(1, 48)), now - timedelta(minutes=1)
            )
            survey.answered_at = answered
            survey.score = score
            survey.comment = rng.choice(SURVEY_COMMENTS)
            ticket.satisfaction = score
            closed = min(answered + timedelta(minutes=rng.randint(5, 120)), now)
            ticket.closed_at = closed
            events.append(
                TicketEvent(kind=TicketEventKind.SURVEYED, data={"score": score}, at=answered)
            )
            events.append(_status(agent, TicketStatus.RESOLVED, TicketStatus.CLOSED, closed))
    elif status != TicketStatus.WAITING and ticket.response_breached_at is None:
        # open and running: mark the breaches the SLA job would have marked
        if (
            ticket.first_response_at is None
            and ticket.response_due_at
            and ticket.response_due_at < now
        ):
            ticket.response_breached_at = ticket.response_due_at
        if ticket.resolution_due_at and ticket.resolution_due_at < now:
            ticket.resolution_breached_at = ticket.resolution_due_at
    for moment in (ticket.response_breached_at, ticket.resolution_breached_at):
        if moment is not None:
            events.append(TicketEvent(kind=TicketEventKind.BREACHED, at=moment))
    ticket.updated_at = max(message.created_at for message in messages)
    batch.tickets.append(ticket)
    batch.messages.append(messages)
    batch.events.append(sorted(events, key=lambda event: event.at))
    batch.surveys.append(survey)


def _raised(rng: random.Random, status: str, now: datetime) -> datetime:
    """When a ticket in ``status`` was raised: open ones recently (some long enough ago to be
    past their due time), closed ones over the last six weeks; in office hours."""
    if status == TicketStatus.NEW:
        return now - timedelta(minutes=rng.randint(5, 100))
    if status == TicketStatus.ASSIGNED:
        return now - timedelta(minutes=rng.choice([40, 75, 110, 200, 400]))
    if status in (TicketStatus.IN_PROGRESS, TicketStatus.WAITING):
        return now - timedelta(hours=rng.choice([3, 6, 20, 30, 50]), minutes=rng.randint(0, 59))
    day = timezone.localtime(now - timedelta(days=rng.randint(2, TICKET_HISTORY_DAYS - 3)))
    return day.replace(hour=rng.randint(9, 17), minute=rng.randint(0, 59), second=0, microsecond=0)


def _reply(rng: random.Random, agent: User, at: datetime) -> TicketMessage:
    return TicketMessage(
        kind=MessageKind.REPLY,
        author=agent,
        body=rng.choice(REPLIES),
        email_message_id=f"<demo.{secrets.token_hex(8)}@demo.kehu.local>",
        sent_at=at,
        created_at=at,
    )


def _status(agent: User, before: str, after: str, at: datetime) -> TicketEvent:
    return TicketEvent(
        kind=TicketEventKind.STATUS, actor=agent, from_status=before, to_status=after, at=at
    )


def _number(tickets: list[Ticket]) -> None:
    """Numbers like T2612060001: the day raised and a sequence per day (``NumberSequence``)."""
    days: dict[str, list[Ticket]] = {}
    for ticket in sorted(tickets, key=lambda row: row.raised_at):
        prefix = f"T{timezone.localtime(ticket.raised_at):%y%m%d}"
        days.setdefault(prefix, []).append(ticket)
    # the sequence key the ticket services number with (services.tickets.next_number)
    firsts = numbering.reserve_many({f"ticket:{day}": len(rows) for day, rows in days.items()})
    for prefix, rows in days.items():
        for offset, ticket in enumerate(rows):
            ticket.number = f"{prefix}{firsts[f'ticket:{prefix}'] + offset:04d}"


def _write(batch: _Batch) -> int:
    created = Ticket.objects.bulk_create(batch.tickets)
    bulk.copy_to_history(Ticket, [ticket.pk for ticket in created], reason=_("Demo data"))
    messages: list[TicketMessage] = []
    events: list[TicketEvent] = []
    surveys: list[Survey] = []
    for ticket, thread, history, survey in zip(
        created, batch.messages, batch.events, batch.surveys, strict=True
    ):
        for message in thread:
            message.ticket = ticket
            messages.append(message)
        for event in history:
            event.ticket = ticket
            events.append(event)
        if survey is not None:
            survey.ticket = ticket
            surveys.append(survey)
    TicketMessage.objects.bulk_create(messages)
    TicketEvent.objects.bulk_create(events)
    Survey.objects.bulk_create(surveys)
    return len(created)


def _service_step(run: DemoRun) -> str:
    return generate_service(users=run.users, seed=run.seed)


# after the customers handed to service (customers.demo.SERVICE_HANDOVER, order 35)
SERVICE_TICKETS = DemoStep(
    key="service_tickets",
    order=36,
    run=_service_step,
    has_data=lambda: Ticket.objects.exists(),
)


def register() -> None:
    from kehu.core import demo

    demo.register(SERVICE_TICKETS)
