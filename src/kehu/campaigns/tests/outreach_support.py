"""Helpers of the outreach tests: a campaign with members who did or did not consent, a real
SMTP sink wired into Django's settings."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from django.utils import timezone

from kehu.accounts.models import User
from kehu.campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignMember,
    Channel,
    Consent,
    ConsentSource,
    ConsentStatus,
    MessageTemplate,
)
from kehu.customers.models import Contact
from kehu.customers.tests.factories import make_customer
from kehu.notifications.tests.servers import SMTP_LOG, free_port


def make_campaign(
    owner: User, *, department: Any = None, name: str = "2026 智能制造展"
) -> Campaign:
    today = timezone.localdate()
    return Campaign.objects.create(
        name=name,
        kind=CampaignKind.EMAIL,
        starts_on=today,
        ends_on=today + datetime.timedelta(days=30),
        owner=owner,
        department=department if department is not None else owner.department,
    )


def add_contact_member(
    campaign: Campaign,
    customer_owner: User,
    *,
    name: str = "王伟",
    gender: str = "m",
    title: str = "",
    email: str = "",
    mobile: str = "",
    consent: str | None = ConsentStatus.GRANTED,
    channel: str = Channel.EMAIL,
    company: str = "",
) -> CampaignMember:
    customer = make_customer(customer_owner, **({"name": company} if company else {}))
    contact = Contact.objects.create(
        customer=customer, name=name, gender=gender, title=title, email=email, mobile=mobile
    )
    if consent is not None:
        Consent.objects.create(
            contact=contact, channel=channel, status=consent, source=ConsentSource.STAFF
        )
    return CampaignMember.objects.create(campaign=campaign, contact=contact, customer=customer)


def make_template(owner: User, *, channel: str = Channel.EMAIL, **data: Any) -> MessageTemplate:
    values = {
        "name": "展会邀请",
        "subject": "{{ salutation }}，邀请您参加{{ campaign }}",
        "body": (
            "{{ salutation }}您好：\n{{ company }}诚邀…\n"
            "联系人：{{ owner_name }} {{ owner_phone }}\n退订：{{ unsubscribe_url }}"
        ),
        **data,
    }
    return MessageTemplate.objects.create(
        channel=channel, owner=owner, department=owner.department, **values
    )


@dataclass
class Sink:
    """A real SMTP server's handler: keeps the mail, counts the sessions, refuses some
    recipients the way a mail server does (550 at RCPT)."""

    messages: list[Any] = field(default_factory=list)
    sessions: int = 0
    refuse: set[str] = field(default_factory=set)

    async def handle_EHLO(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def parsed(self) -> list[EmailMessage]:
        parser = BytesParser(policy=default)
        return [parser.parsebytes(envelope.content) for envelope in self.messages]  # type: ignore[misc]


@contextmanager
def smtp_sink(settings: Any) -> Iterator[Sink]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    level = SMTP_LOG.level
    SMTP_LOG.setLevel(logging.WARNING)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield sink
    finally:
        controller.stop()
        SMTP_LOG.setLevel(level)
