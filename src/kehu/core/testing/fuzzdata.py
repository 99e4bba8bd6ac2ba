"""The small company the API and UI fuzzers run against (issue 34).

``kehu demo``'s data (users of every role, customers, contacts, follow-ups, tasks, deals) plus
one or two of each object the demo does not make (leads, rules, a web form, a pool with a
customer in it, a channel, notifications, a follow-up with an attachment, an import job), so
the fuzzers reach the code behind each detail route and not only its 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile

SEED = 34

# Route or path parameter -> the model whose ids it takes.
ID_MODELS = {
    "token_id": "accounts.ApiToken",
    "filter_id": "customers.SavedFilter",
    "customer_id": "customers.Customer",
    "contact_id": "customers.Contact",
    "attachment_id": "customers.CustomerAttachment",
    "lead_id": "leads.Lead",
    "rule_id": "leads.AssignmentRule",
    "form_id": "leads.WebForm",
    "task_id": "followups.Task",
    "followup_id": "followups.FollowUp",
    "notification_id": "notifications.Notification",
    "channel_id": "notifications.Channel",
    "stage_id": "opportunities.Stage",
    "reason_id": "opportunities.LossReason",
    "opportunity_id": "opportunities.Opportunity",
    "job_id": "transfer.ImportJob",
    "pool_id": "pools.Pool",
    "offboarding_id": "pools.Offboarding",
    "policy_id": "service.SlaPolicy",
    "entry_id": "service.CalendarEntry",
    "survey_id": "service.Survey",
    "handover_id": "service.Handover",
    "contract_id": "contracts.Contract",
    "handover_attachment_id": "service.HandoverAttachment",
    "routing_rule_id": "service.RoutingRule",
    "ticket_id": "service.Ticket",
    "mailbox_id": "service.Mailbox",
    "ticket_form_id": "service.TicketWebForm",
    "segment_id": "campaigns.Segment",
    "webhook_id": "integrations.WebhookSubscription",
    "delivery_id": "integrations.WebhookDelivery",
    "request_id": "governance.SubjectRequest",
    "retention_policy_id": "governance.RetentionPolicy",
    "hold_id": "governance.LegalHold",
    "batch_id": "governance.DestructionBatch",
    "field_id": "integrations.CustomField",
}

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def seed_company(*, customers: int, files: Path) -> dict[str, list[Any]]:
    """Load the company; returns, per parameter name, the ids (or keys) that exist."""
    from kehu.core.demo import load_demo

    load_demo(customers=customers, seed=SEED)
    _add_extras(files)
    return existing_values()


def existing_values() -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for parameter, label in ID_MODELS.items():
        model = apps.get_model(label)
        found[parameter] = list(model.objects.order_by("pk").values_list("pk", flat=True)[:20])
    webform = apps.get_model("leads.WebForm")
    feed = apps.get_model("followups.CalendarFeed")
    found["key"] = list(webform.objects.values_list("key", flat=True))
    found["token"] = list(feed.objects.values_list("token", flat=True))
    return found


def _add_extras(files: Path) -> None:
    from kehu.accounts import services as accounts
    from kehu.accounts.models import User
    from kehu.customers.models import Customer
    from kehu.followups.models import CalendarFeed
    from kehu.followups.services import followup_create
    from kehu.leads import services as leads
    from kehu.notifications.models import Channel
    from kehu.notifications.services import notify
    from kehu.pools.services.claims import pool_put
    from kehu.pools.services.pools import pool_create
    from kehu.service.services import calendar as service_calendar
    from kehu.service.services import sla as service_sla
    from kehu.transfer.services import import_job_create

    admin = User.objects.get(username="admin")
    rep = User.objects.get(username="li.sales")
    accounts.token_create(user=admin, name="fuzz data")
    CalendarFeed.objects.get_or_create(user=admin)
    for number in range(1, 4):
        leads.lead_capture(
            actor=admin,
            data={
                "company_name": f"模糊测试科技有限公司{number}",
                "contact_name": f"联系人{number}",
                "mobile": f"1390013{number:04d}",
                "source": "trade_show",
            },
        )
    leads.rule_create(actor=admin, data={"name": "上海组", "reps": [rep]})
    leads.web_form_create(actor=admin, data={"name": "官网留言", "source": "website"})
    pool = pool_create(actor=admin, data={"name": "公海"})
    spare = Customer.objects.order_by("-pk").first()
    if spare is not None:
        pool_put(actor=admin, customer_id=spare.pk, pool_id=pool.pk, reason="fuzz")
    for user in (admin, rep):
        # Straight to the table: the channel service resolves the robot's host.
        Channel.objects.create(user=user, kind="wecom", target="https://robot.example/hook")
    notify(recipients=[admin, rep], kind="system", title="模糊测试通知")
    customer = Customer.objects.visible_to(rep).order_by("pk").first()
    if customer is not None:
        picture = SimpleUploadedFile("现场.png", PNG, content_type="image/png")
        followup_create(
            actor=rep,
            customer=customer,
            data={"method": "visit", "content": "拜访并留下照片", "attachments": [picture]},
        )
    _add_tickets(admin)
    files.mkdir(parents=True, exist_ok=True)
    sheet = files / "客户.csv"
    sheet.write_text("客户名称,联系人,手机\n模糊导入有限公司,王五,13900139000\n", encoding="utf-8")
    import_job_create(actor=admin, kind="customers", path=sheet)
    service_calendar.calendar_refresh()
    service_sla.policy_create(
        actor=admin,
        data={"priority": "high", "customer_grade": "A", "respond_minutes": 30,
              "resolve_minutes": 240},
    )  # fmt: skip
    _add_handovers(admin, rep)
    _add_surveys()
    _add_mail(admin)
    _add_segments(admin)
    _add_webhooks(admin)
    _add_personal_data_requests(admin)


def _add_segments(admin: Any) -> None:
    """A dynamic segment and a static list with one customer (campaigns/segments)."""
    from kehu.campaigns.services import segments
    from kehu.customers.models import Customer

    segments.segment_create(
        actor=admin,
        data={
            "name": "成交客户",
            "conditions": {
                "match": "all",
                "conditions": [{"field": "status", "op": "in", "value": ["won"]}],
            },
        },
    )
    listed = segments.segment_create(actor=admin, data={"name": "展会名单", "kind": "static"})
    first = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    if first is not None:
        segments.entries_add(actor=admin, segment_id=listed.pk, ids=[first])


def _add_surveys() -> None:
    """A survey sent for a ticket of the demo (an answered one when there are two)."""
    from kehu.service.models import Survey, Ticket
    from kehu.service.services import surveys

    for ticket in Ticket.objects.exclude(requester_email="").order_by("pk")[:2]:
        survey = surveys.survey_send(ticket)
        if survey is not None and Survey.objects.count() == 2:
            surveys.survey_answer(token=surveys.survey_token(survey), score=4, comment="模糊")


def _add_handovers(admin: Any, rep: Any) -> None:
    """A routing rule, a draft and a pending handover with an attachment (the demo makes
    completed ones for the service login)."""
    from kehu.customers.models import Customer
    from kehu.service.models import Handover
    from kehu.service.services import handovers

    service = apps.get_model("accounts.User").objects.filter(role="service").first()
    if service is None:
        return
    handovers.routing_rule_create(
        actor=admin, data={"name": "兜底", "target": "handover", "members": [service.pk]}
    )
    free = (
        Customer.objects.editable_by(rep)
        .exclude(pk__in=Handover.objects.values("customer_id"))
        .order_by("pk")
    )
    made = []
    for customer in free[:2]:
        made.append(
            handovers.handover_create(
                actor=rep,
                customer=customer,
                data={
                    "needs": "模糊测试需求",
                    "service_content": "电话支持",
                    "response_hours": 4,
                    "resolution_hours": 48,
                    "contract_terms": "保密条款",
                },
            )
        )
    if len(made) == 2:
        submitted = handovers.handover_submit(actor=rep, handover=made[1], specialist=service)
        contract = SimpleUploadedFile("合同.png", PNG, content_type="image/png")
        handovers.handover_attachment_add(actor=rep, handover=submitted, file=contract)


def _add_mail(admin: Any) -> None:
    """An inbound mailbox on a loopback port that refuses at once (its "test" and "poll"
    answer without waiting on a network) and a public ticket form."""
    from kehu.service.services import mail, web_forms

    mail.mailbox_create(
        actor=admin,
        data={
            "name": "售后邮箱", "host": "127.0.0.1", "port": 1, "use_ssl": False,
            "username": "support", "password": "fuzz", "address": "support@example.cn",
        },
    )  # fmt: skip
    web_forms.ticket_form_create(actor=admin, data={"name": "在线报修", "slug": "repair"})


def _add_webhooks(admin: Any) -> None:
    """A webhook to a loopback port that refuses at once (deliveries fail without waiting on
    a network) and one logged delivery to send again."""
    from kehu.core import config
    from kehu.integrations.models import WebhookDelivery
    from kehu.integrations.services import webhooks

    config.put(webhooks.ALLOW_INTERNAL.key, True)
    hook = webhooks.webhook_create(
        actor=admin,
        data={
            "name": "ERP", "url": "http://127.0.0.1:1/hook", "run_as": admin.pk,
            "events": ["customer.created", "customer.updated"],
        },
    )  # fmt: skip
    WebhookDelivery.objects.create(
        subscription=hook,
        event_id="00000000-0000-4000-8000-000000000034",
        event="customer.created",
        instance_id=1,
        body='{"id":"00000000-0000-4000-8000-000000000034","event":"customer.created"}',
        status="failed",
    )


def _add_personal_data_requests(admin: Any) -> None:
    """One request of each kind, of a contact and of a lead."""
    from kehu.customers.models import Contact
    from kehu.governance.services.requests import request_create
    from kehu.leads.models import Lead

    contact = Contact.objects.order_by("pk").first()
    lead = Lead.objects.order_by("pk").first()
    for kind in ("access", "correction", "erasure"):
        for subject_type, subject in (("contact", contact), ("lead", lead)):
            if subject is not None:
                request_create(
                    actor=admin, kind=kind, subject_type=subject_type, subject_id=subject.pk
                )


def _add_tickets(admin: Any) -> None:
    """Tickets: one per status of the flow, one in triage and one merged duplicate."""
    from kehu.customers.models import Customer
    from kehu.service.services import tickets

    customer = Customer.objects.order_by("pk").first()
    made = [
        tickets.ticket_create(
            actor=admin,
            data={"subject": f"模糊测试工单{number}", "content": "设备报警", "assignee": admin.pk},
            channel="ui",
            customer=customer,
            requester_email="fuzz@example.cn",
        )
        for number in range(1, 5)
    ]
    tickets.ticket_set_status(actor=admin, ticket=made[1], status="waiting")
    tickets.ticket_set_status(actor=admin, ticket=made[2], status="resolved")
    tickets.ticket_merge(actor=admin, ticket=made[3], into=made[0])
    tickets.ticket_create(
        actor=None,
        data={"subject": "未知发件人", "content": "请联系我"},
        channel="email",
        requester_email="stranger@example.com",
    )
