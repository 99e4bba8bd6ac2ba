"""The first-talk e-mail: merge fields, preview, sending through a real SMTP server, the
timeline, the templates, and the reminder when 24 hours pass without it."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import timedelta
from email.policy import default as default_policy
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.testing.factories import Organisation
from kehu.customers import timeline
from kehu.followups import emails, reminders, services
from kehu.followups.models import EmailTemplate, SentEmail, Task, TaskKind, TaskStatus
from kehu.followups.tests.factories import make_contact, make_customer
from kehu.notifications.tests.servers import Mailbox, smtp_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(settings: Any) -> Iterator[Mailbox]:
    with smtp_server() as (box, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        yield box


def _first_talk(org: Organisation) -> Any:
    customer = make_customer(org.rep, initial_need="20 台数控机床的设备管理系统")
    make_contact(customer, name="王伟", title="采购经理", email="wang.wei@example.com")
    return services.followup_create(
        actor=org.rep,
        customer=customer,
        data={
            "method": "phone",
            "content": "首次电话沟通，了解设备管理需求",
            "next_step_on": timezone.localdate() + timedelta(days=3),
            "next_step_action": "上门演示",
        },
    )


def _compose(org: Organisation, followup: Any, **changes: Any) -> emails.Draft:
    contact = followup.customer.contacts.get(name="王伟")
    template = EmailTemplate.objects.get(name="首次沟通跟进邮件")
    values = {**emails.initial_values(followup, contact, org.rep), **changes.pop("values", {})}
    arguments: dict[str, Any] = {
        "actor": org.rep,
        "followup": followup,
        "contact_id": contact.pk,
        "template_id": template.pk,
        "subject": "",
        "body": "",
        "values": values,
        **changes,
    }
    return emails.compose(**arguments)


def test_merge_fields_fill_the_default_template(org: Organisation) -> None:
    org.rep.mobile = "13912345678"
    org.rep.display_name = "李娜"
    followup = _first_talk(org)
    draft = _compose(org, followup)
    assert draft.to == "wang.wei@example.com"
    assert draft.body.startswith("王经理您好")  # 王伟, 采购经理
    assert "20 台数控机床的设备管理系统" in draft.body
    assert "上门演示" in draft.body
    assert "李娜" in draft.body
    assert "13912345678" in draft.body
    assert "{" not in draft.subject + draft.body


def test_an_unknown_merge_field_is_refused_before_sending(
    org: Organisation, mailbox: Mailbox
) -> None:
    followup = _first_talk(org)
    with pytest.raises(InvalidInput) as refused:
        _compose(org, followup, body="{salutation}您好，{budget} 万元的预算")
    assert "body" in refused.value.errors
    assert "{budget}" in refused.value.errors["body"][0]
    with pytest.raises(InvalidInput) as unclosed:
        _compose(org, followup, subject="感谢 {customer_name")
    assert "subject" in unclosed.value.errors
    assert mailbox.messages == []
    assert not SentEmail.objects.exists()


def test_send_through_smtp_records_on_the_timeline(org: Organisation, mailbox: Mailbox) -> None:
    followup = _first_talk(org)
    draft = _compose(org, followup)
    row = emails.first_talk_send(actor=org.rep, draft=draft)
    assert len(mailbox.messages) == 1
    envelope = mailbox.messages[0]
    assert envelope.rcpt_tos == ["wang.wei@example.com"]
    message = email.message_from_bytes(envelope.content, policy=default_policy)
    assert str(message["Subject"]).strip() == draft.subject
    assert "王经理您好" in message.get_body().get_content()  # type: ignore[union-attr]
    items = [
        item for item in timeline.items_for(followup.customer, org.rep) if item.kind == "email"
    ]
    assert [item.url for item in items] == [reverse("followups:email_detail", args=[row.pk])]


def test_a_refusing_server_records_nothing(org: Organisation, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # nothing listens
    settings.EMAIL_TIMEOUT = 2
    followup = _first_talk(org)
    with pytest.raises(emails.MailNotSent):
        emails.first_talk_send(actor=org.rep, draft=_compose(org, followup))
    assert not SentEmail.objects.exists()


def test_only_the_customers_editors_send(org: Organisation) -> None:
    followup = _first_talk(org)
    with pytest.raises(Forbidden):
        _compose(org, followup, actor=org.marketing)
    contact = make_contact(followup.customer, name="赵敏", email="")
    with pytest.raises(InvalidInput) as refused:
        _compose(org, followup, contact_id=contact.pk)
    assert "contact" in refused.value.errors


def test_reminder_after_24_hours_and_sending_completes_it(
    org: Organisation, mailbox: Mailbox
) -> None:
    followup = _first_talk(org)
    customer = followup.customer
    customer.refresh_from_db()
    assert customer.first_contact_at is not None
    assert reminders.run_hourly()["first_email"] == 0  # not 24 hours yet
    later = customer.first_contact_at + timedelta(hours=25)
    assert emails.first_email_reminders(now=later) == 1
    assert emails.first_email_reminders(now=later) == 0  # once
    task = Task.objects.get(kind=TaskKind.FIRST_EMAIL)
    assert task.assignee == org.rep
    assert task.customer == customer
    assert task.followup == followup
    emails.first_talk_send(actor=org.rep, draft=_compose(org, followup))
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_no_reminder_when_the_email_went_out(org: Organisation, mailbox: Mailbox) -> None:
    followup = _first_talk(org)
    emails.first_talk_send(actor=org.rep, draft=_compose(org, followup))
    followup.customer.refresh_from_db()
    later = followup.customer.first_contact_at + timedelta(hours=25)
    assert emails.first_email_reminders(now=later) == 0


def test_compose_page_previews_then_sends(org: Organisation, mailbox: Mailbox) -> None:
    followup = _first_talk(org)
    client = Client()
    client.force_login(org.rep)
    url = reverse("followups:email_compose", args=[followup.pk])
    page = client.get(url).content.decode()
    assert "王经理" in page
    template = EmailTemplate.objects.get(name="首次沟通跟进邮件")
    form = {
        "contact": followup.customer.contacts.get().pk,
        "template": template.pk,
        "salutation": "王先生",
        "need_summary": "设备管理系统",
        "next_meeting": "周三下午",
        "subject": template.subject,
        "body": template.body,
    }
    preview = client.post(url, {**form, "action": "preview"}).content.decode()
    assert 'id="email-preview"' in preview
    assert "王先生您好" in preview
    assert mailbox.messages == []
    bad = client.post(url, {**form, "body": "{greeting}", "action": "send"})
    assert bad.status_code == 200
    assert "{greeting}" in bad.content.decode()
    assert mailbox.messages == []
    sent = client.post(url, {**form, "action": "send"})
    assert sent.status_code == 302
    assert len(mailbox.messages) == 1
    timeline_page = client.get(sent["Location"]).content.decode()
    assert "感谢您的时间" in timeline_page or SentEmail.objects.count() == 1


def test_templates_are_edited_by_managers_with_history(org: Organisation) -> None:
    with pytest.raises(Forbidden):
        emails.email_template_save(actor=org.rep, data={"name": "x", "subject": "s", "body": "b"})
    with pytest.raises(InvalidInput) as refused:
        emails.email_template_save(
            actor=org.east_manager,
            data={"name": "回访邮件", "subject": "回访", "body": "{salutation}，{unknown}"},
        )
    assert "body" in refused.value.errors
    item = emails.email_template_save(
        actor=org.east_manager,
        data={"name": "回访邮件", "subject": "回访 {customer_name}", "body": "{salutation}您好"},
    )
    emails.email_template_save(
        actor=org.admin, template=item, data={"subject": "再次回访 {customer_name}"}
    )
    assert [row.history_user for row in item.history.all()] == [org.admin, org.east_manager]
    client = Client()
    client.force_login(org.rep)
    assert client.get(reverse("followups:email_templates")).status_code == 403
