"""Sends: a template to a campaign's reachable members, by e-mail, SMS or WeCom.

``send_create`` (the web request) stays quick whatever the campaign's size: it checks the
template, its merge fields, the channel and the scope, and that at least one member is
reachable (consent's ``partition`` over the first members, in growing windows, stopping at
the first recipient; zero reachable recipients is a 422 ``no_recipients`` with the skipped
counts that creates nothing), then creates the Send queued or scheduled with no messages.
The job ``tasks.run_send`` then calls ``send_run``: it prepares the send (``partition`` of all
members, one ``Message`` per recipient written in bulk, ``Send.skipped``/``total``, then
``prepared_at``; until then ``Send.preparing`` is true and the counters are 0), renders and
sends in batches (e-mail: ONE SMTP connection per batch; SMS/WeCom: the configured channel
back-end's ``send_batch``), keeps to ``campaigns.send_per_minute``, marks each message sent
or failed with the reason, adds to the send's counters and records a MESSAGE touch per
message sent. Consent is read again when the job prepares, so a withdrawal between the
request and the job is honoured; if nobody is reachable by then the send is done with 0.

A scheduled send waits (``SendStatus.SCHEDULED``) until ``tasks.start_due_sends`` queues it;
it can be cancelled until then. A test send goes to the actor's own address, rendered with a
sample member, through the same pipeline, and records no touch.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.header import Header
from email.utils import formatdate, make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.message import sanitize_address
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kehu.campaigns.channels import base
from kehu.campaigns.models import (
    Campaign,
    CampaignMember,
    Channel,
    Message,
    MessageStatus,
    MessageTemplate,
    Send,
    SendStatus,
    Touch,
    TouchKind,
)
from kehu.campaigns.services import merge
from kehu.campaigns.services.consent import REASON_LABELS, partition
from kehu.campaigns.services.touches import record_many
from kehu.campaigns.services.unsubscribe import headers_for, link_for
from kehu.core import config
from kehu.core.access import lock_editable
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound

PER_MINUTE = pgettext_lazy("unit", "messages per minute")
MESSAGES = pgettext_lazy("unit", "messages")

SEND_PER_MINUTE = config.define(
    "campaigns.send_per_minute",
    6000,
    gettext_lazy("Campaign messages sent per minute at most"),
    group="campaigns",
    unit=PER_MINUTE,
    minimum=1,
    maximum=100000,
    help=gettext_lazy(
        "A send keeps below this rate (mail servers and SMS providers limit senders); "
        "100,000 recipients at 6,000 a minute take about 17 minutes."
    ),
)
SEND_BATCH_SIZE = config.define(
    "campaigns.send_batch_size",
    200,
    gettext_lazy("Campaign messages per batch"),
    group="campaigns",
    unit=MESSAGES,
    minimum=1,
    maximum=1000,
    help=gettext_lazy(
        "Messages rendered and sent together: one SMTP connection or one provider call per "
        "batch, one update of their statuses."
    ),
)

SEND_CONNECTIONS = config.define(
    "campaigns.send_connections",
    4,
    gettext_lazy("SMTP connections of a send at once"),
    group="campaigns",
    unit=pgettext_lazy("unit", "connections"),
    minimum=1,
    maximum=16,
    help=gettext_lazy(
        "E-mail batches sent side by side, each over its own connection: a mail server's "
        "round trips, not the CPU, limit one connection. 1 sends one batch after another."
    ),
)

WRITER_ROLES = frozenset({"marketing", "manager", "admin"})
INSERT_CHUNK = 5000


def send_may_write(user: Any) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in WRITER_ROLES))


# --- creating sends ---------------------------------------------------------------------------


def _require_writer(actor: Any) -> None:
    if not send_may_write(actor):
        raise Forbidden(_("Only marketing, managers and administrators send campaigns."))


def _template_for(actor: Any, template_id: int, channel: str) -> MessageTemplate:
    template = MessageTemplate.objects.visible_to(actor).filter(pk=template_id).first()
    if template is None:
        raise InvalidInput(
            _("Choose one of your templates."), errors={"template_id": [_("Unknown template.")]}
        )
    if channel and channel != template.channel:
        raise InvalidInput(
            _("The template is written for another channel."),
            errors={
                "channel": [
                    _("The template is for %(channel)s.")
                    % {"channel": template.get_channel_display()}
                ]
            },
        )
    merge.check_template(template.subject, template.body)
    return template


def describe_skipped(skipped: dict[str, int]) -> str:
    return ", ".join(
        f"{REASON_LABELS.get(reason, reason)}: {count}"
        for reason, count in skipped.items()
        if count
    )


# Members the request examines for a reachable one: windows of growing size, in member order
PROBE_FIRST_WINDOW = 200
PROBE_GROWTH = 10


def _unreachable(channel: str, members: QuerySet[CampaignMember]) -> dict[str, int] | None:
    """None when some member is reachable on ``channel``; else every member's skip reason
    counted, exactly as ``partition`` counts them.

    ``partition`` over windows of members in id order, stopping at the first window with a
    recipient: with nobody reachable in the earlier windows, nobody was seen before, so a
    window's recipients are the whole partition's. A campaign where the first members are
    reachable costs three queries however large it is.
    """
    skipped: dict[str, int] = {}
    after = 0
    size = PROBE_FIRST_WINDOW
    while True:
        rest = members.filter(pk__gt=after)
        last = list(rest.order_by("pk").values_list("pk", flat=True)[size - 1 : size])
        window = rest.filter(pk__lte=last[0]) if last else rest
        split = partition(channel, window)
        if split.recipients:
            return None
        for reason, count in split.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
        if not last:
            return skipped
        after = last[0]
        size *= PROBE_GROWTH


@transaction.atomic
def send_create(
    *,
    actor: Any,
    campaign_id: int,
    template_id: int,
    channel: str = "",
    scheduled_for: datetime | None = None,
) -> Send:
    """A send of the template to the campaign's reachable members (see the module): queued or
    scheduled, its messages written by the job."""
    campaign = lock_editable(Campaign.objects.all(), actor, pk=campaign_id)
    _require_writer(actor)
    template = _template_for(actor, template_id, channel)
    now = timezone.now()
    if scheduled_for is not None and scheduled_for <= now:
        raise InvalidInput(
            _("Schedule the send in the future, or send it now."),
            errors={"scheduled_for": [_("This time has passed.")]},
        )
    skipped = _unreachable(template.channel, CampaignMember.objects.filter(campaign=campaign))
    if skipped is not None:
        raise InvalidInput(
            _("No member of this campaign can be reached by %(channel)s (%(skipped)s).")
            % {
                "channel": template.get_channel_display(),
                "skipped": describe_skipped(skipped) or _("the campaign has no members"),
            },
            code="no_recipients",
            errors={"recipients": [_("No reachable recipient.")]},
            extra={"skipped": skipped},
        )
    send = Send.objects.create(
        campaign=campaign,
        template=template,
        channel=template.channel,
        status=SendStatus.SCHEDULED if scheduled_for else SendStatus.QUEUED,
        scheduled_for=scheduled_for,
        created_by=actor,
    )
    if not scheduled_for:
        transaction.on_commit(lambda: enqueue(send.pk))
    return send


@transaction.atomic
def _prepare(send: Send) -> None:
    """Write the send's messages: every reachable member now (consent read again), in bulk;
    the skipped ones counted by reason. The send's fields are updated in memory too."""
    split = partition(send.channel, CampaignMember.objects.filter(campaign_id=send.campaign_id))
    Message.objects.bulk_create(
        (
            Message(send_id=send.pk, member=member, address=address)
            for member, address in split.recipients
        ),
        batch_size=INSERT_CHUNK,
    )
    send.total = len(split.recipients)
    send.skipped = split.skipped
    send.prepared_at = timezone.now()
    Send.objects.filter(pk=send.pk).update(
        total=send.total,
        skipped=send.skipped,
        prepared_at=send.prepared_at,
        updated_at=send.prepared_at,
    )


@transaction.atomic
def send_test(
    *, actor: Any, campaign_id: int, template_id: int, member_id: int | None = None
) -> Send:
    """Send the template to the actor's own e-mail or mobile, rendered with a member (the
    given one, else the campaign's first) of the campaign."""
    campaign = lock_editable(Campaign.objects.all(), actor, pk=campaign_id)
    _require_writer(actor)
    template = _template_for(actor, template_id, "")
    address = {
        Channel.EMAIL: actor.email,
        Channel.SMS: getattr(actor, "mobile", ""),
    }.get(Channel(template.channel), "")
    if not address:
        raise InvalidInput(
            _("Your profile has no address for a test %(channel)s.")
            % {"channel": template.get_channel_display()},
            errors={"channel": [_("No address of yours on this channel.")]},
        )
    members = CampaignMember.objects.filter(campaign=campaign)
    member = members.filter(pk=member_id).first() if member_id else members.order_by("id").first()
    if member_id and member is None:
        raise InvalidInput(_("Unknown member."), errors={"member_id": [_("Unknown member.")]})
    send = Send.objects.create(
        campaign=campaign,
        template=template,
        channel=template.channel,
        is_test=True,
        total=1,
        prepared_at=timezone.now(),
        created_by=actor,
    )
    Message.objects.create(send=send, member=member, address=address)
    transaction.on_commit(lambda: enqueue(send.pk))
    return send


def enqueue(send_id: int) -> None:
    # tasks imports this module at its top for the job bodies; importing it here breaks the cycle.
    from kehu.campaigns.tasks import run_send

    run_send(send_id)


@transaction.atomic
def send_cancel(*, actor: Any, send_id: int) -> Send:
    send = _lock_send(actor, send_id)
    _require_writer(actor)
    if send.status not in (SendStatus.SCHEDULED, SendStatus.QUEUED):
        raise Conflict(_("The send has started; it can no longer be cancelled."))
    send.status = SendStatus.CANCELLED
    send.finished_at = timezone.now()
    send.save(update_fields=["status", "finished_at", "updated_at"])
    return send


def _lock_send(actor: Any, send_id: int) -> Send:
    send = Send.objects.select_for_update().filter(pk=send_id).first()
    if send is None:
        raise NotFound("send")
    lock_editable(Campaign.objects.all(), actor, pk=send.campaign_id)
    return send


@transaction.atomic
def start_due(now: datetime | None = None) -> list[int]:
    """Queue the scheduled sends whose time has come; their ids."""
    now = now or timezone.now()
    due = list(
        Send.objects.select_for_update(skip_locked=True)
        .filter(status=SendStatus.SCHEDULED, scheduled_for__lte=now)
        .values_list("pk", flat=True)
    )
    if due:
        Send.objects.filter(pk__in=due).update(status=SendStatus.QUEUED, updated_at=now)
        for send_id in due:
            transaction.on_commit(lambda send_id=send_id: enqueue(send_id))  # type: ignore[misc]
    return due


# --- rendering --------------------------------------------------------------------------------


def preview(
    *,
    template: MessageTemplate,
    member: CampaignMember | None,
    actor: Any,
    send: Send | None = None,
) -> dict[str, str]:
    """The subject and text ``member`` would receive (a sample when there is none)."""
    if member is None:
        context = merge.sample_context(actor, "")
    else:
        context = merge.context_for(
            member, unsubscribe_url=link_for(member, template.channel, send)
        )
    return {
        "subject": merge.render(template.subject, context),
        "text": merge.render(template.body, context),
    }


def _outgoing(send: Send, message: Message, template: MessageTemplate, actor: Any) -> base.Outgoing:
    member = message.member
    if member is None:
        context = merge.sample_context(actor, send.campaign.name)
        headers: dict[str, str] = {}
    else:
        url = link_for(member, send.channel, send)
        context = merge.context_for(member, unsubscribe_url=url)
        headers = headers_for(member, send) if send.channel == Channel.EMAIL else {}
    subject = merge.render(template.subject, context)
    if send.is_test:
        subject = _("[Test] ") + subject
    return base.Outgoing(
        address=message.address,
        subject=subject,
        text=merge.render(template.body, context),
        provider_template=template.provider_template,
        parameters={key: context[key] for key in merge.FIELDS_KEYS if key in context},
        headers=headers,
    )


def _email_batch(messages: Sequence[base.Outgoing]) -> list[base.Outcome]:
    """Send a batch over ONE SMTP connection; one outcome per message."""
    connection = get_connection()
    try:
        connection.open()
    except Exception as error:  # smtplib, socket and SSL errors alike
        raise base.ChannelUnavailable(f"{type(error).__name__}: {error}") from error
    outcomes: list[base.Outcome] = []
    smtp = getattr(connection, "connection", None)  # Django's SMTP back-end: smtplib.SMTP
    try:
        for outgoing in messages:
            if smtp is not None:
                outcomes.append(_smtp_send(smtp, outgoing))
                continue
            mail = EmailMessage(
                subject=outgoing.subject,
                body=outgoing.text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[outgoing.address],
                headers=outgoing.headers,
                connection=connection,
            )
            try:
                accepted = mail.send()
            except Exception as error:  # a refused recipient is this message's failure
                outcomes.append(base.Outcome(error=f"{type(error).__name__}: {error}"[:500]))
                continue
            outcomes.append(base.Outcome() if accepted == 1 else base.Outcome(error="not accepted"))
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return outcomes


_LINE_BREAKS = str.maketrans({"\r": " ", "\n": " "})


def _raw_mail(outgoing: base.Outgoing, sender: str) -> bytes:
    """The message as Django's EmailMessage writes it (UTF-8 text, RFC 2047 subject), built
    directly: five times cheaper than the MIME classes, which dominated a send's CPU time.
    Header values lose line breaks, so no merge value can add a header."""
    headers = {
        "From": sender,
        "To": outgoing.address,
        "Subject": Header(outgoing.subject.translate(_LINE_BREAKS), "utf-8").encode(),
        "Date": formatdate(localtime=True),
        "Message-ID": make_msgid(domain=str(DNS_NAME)),
        "MIME-Version": "1.0",
        "Content-Type": 'text/plain; charset="utf-8"',
        "Content-Transfer-Encoding": "base64",
    }
    for name, value in outgoing.headers.items():
        headers[name.translate(_LINE_BREAKS)] = value.translate(_LINE_BREAKS)
    head = "\r\n".join(f"{name}: {value}" for name, value in headers.items())
    body = base64.encodebytes(outgoing.text.encode()).replace(b"\n", b"\r\n")
    return head.encode() + b"\r\n\r\n" + body


def _smtp_send(smtp: Any, outgoing: base.Outgoing) -> base.Outcome:
    address = outgoing.address
    if not address or any(char in address for char in "\r\n<>,"):
        return base.Outcome(error=f"not an e-mail address: {address!r}"[:500])
    sender = sanitize_address(settings.DEFAULT_FROM_EMAIL, "utf-8")
    try:
        refused = smtp.sendmail(sender, [address], _raw_mail(outgoing, sender))
    except Exception as error:  # a refused recipient is this message's failure
        return base.Outcome(error=f"{type(error).__name__}: {error}"[:500])
    if refused:
        return base.Outcome(error=f"refused: {refused}"[:500])
    return base.Outcome()


def _backend_name(channel: str) -> str:
    key = {Channel.SMS: "campaigns.sms_backend", Channel.WECOM: "campaigns.wecom_backend"}[
        Channel(channel)
    ]
    if key in config.DEFAULTS:  # area E defines these settings
        return str(config.get(key))
    return {Channel.SMS: "aliyun_sms", Channel.WECOM: "wecom"}[Channel(channel)]


def _deliver(channel: str, batch: Sequence[base.Outgoing]) -> list[base.Outcome]:
    if channel == Channel.EMAIL:
        return _email_batch(batch)
    return base.backend(_backend_name(channel)).send_batch(batch)


def _attempt(
    channel: str, batch: Sequence[base.Outgoing]
) -> list[base.Outcome] | base.ChannelUnavailable:
    try:
        return _deliver(channel, batch)
    except base.ChannelUnavailable as unavailable:
        return unavailable


def _batch(send_id: int, after_id: int, size: int) -> list[Message]:
    return list(
        Message.objects.filter(send_id=send_id, status=MessageStatus.QUEUED, id__gt=after_id)
        .select_related(
            "member__campaign",
            "member__contact__customer__owner",
            "member__lead__assignee",
        )
        .order_by("id")[:size]
    )


def send_run(send_id: int) -> Send | None:
    """Deliver a queued send (the job's body); returns the send, or None if it is not queued."""
    with transaction.atomic():
        send = (
            Send.objects.select_for_update(of=("self",))
            .select_related("campaign", "template", "created_by")
            .filter(pk=send_id)
            .first()
        )
        if send is None or send.status != SendStatus.QUEUED:
            return None
        send.status = SendStatus.SENDING
        send.started_at = send.started_at or timezone.now()
        send.save(update_fields=["status", "started_at", "updated_at"])
    if send.prepared_at is None:
        _prepare(send)
    per_minute = int(config.get(SEND_PER_MINUTE.key))
    size = int(config.get(SEND_BATCH_SIZE.key))
    # E-mail batches go out over several connections at once (one per batch); a provider's
    # back-end is called one batch at a time.
    width = int(config.get(SEND_CONNECTIONS.key)) if send.channel == Channel.EMAIL else 1
    template = send.template
    started = time.monotonic()
    done = 0
    last_id = 0
    stop_reason = ""
    with ThreadPoolExecutor(max_workers=width) as pool:
        while True:
            if Send.objects.filter(pk=send.pk, status=SendStatus.CANCELLED).exists():
                break
            rows = _batch(send.pk, last_id, size * width)
            if not rows:
                break
            last_id = rows[-1].pk
            batches = [rows[start : start + size] for start in range(0, len(rows), size)]
            rendered = [
                [_outgoing(send, message, template, send.created_by) for message in batch]
                for batch in batches
            ]
            if width == 1:
                results = [_attempt(send.channel, rendered[0])]
            else:
                results = list(pool.map(_attempt, [send.channel] * len(rendered), rendered))
            for batch, result in zip(batches, results, strict=True):
                if isinstance(result, base.ChannelUnavailable):
                    stop_reason = str(result)[:500] or _("The channel is unavailable.")
                else:
                    _record(send, batch, result)
            if stop_reason:
                break
            done += len(rows)
            # Throttle: never ahead of per_minute messages a minute since the start
            ahead = done * 60.0 / per_minute - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    now = timezone.now()
    if stop_reason:
        failed = Message.objects.filter(send=send, status=MessageStatus.QUEUED).update(
            status=MessageStatus.FAILED, reason=stop_reason
        )
        Send.objects.filter(pk=send.pk).update(failed=F("failed") + failed)
    Send.objects.filter(pk=send.pk, status=SendStatus.SENDING).update(
        status=SendStatus.DONE, finished_at=now, updated_at=now
    )
    send.refresh_from_db()
    return send


@transaction.atomic
def _record(send: Send, batch: list[Message], outcomes: list[base.Outcome]) -> None:
    """Write one batch's outcomes, counters and touches (four queries for an e-mail batch)."""
    now = timezone.now()
    sent = [message for message, outcome in zip(batch, outcomes, strict=True) if outcome.ok]
    failed: list[Message] = []
    with_ids: list[Message] = []
    for message, outcome in zip(batch, outcomes, strict=True):
        if outcome.ok:
            if outcome.provider_id:
                message.provider_id = outcome.provider_id[:100]
                message.status = MessageStatus.SENT
                message.sent_at = now
                with_ids.append(message)
        else:
            message.status = MessageStatus.FAILED
            message.reason = outcome.error[:500]
            failed.append(message)
    plain = [message.pk for message in sent if not message.provider_id]
    if plain:
        Message.objects.filter(pk__in=plain).update(status=MessageStatus.SENT, sent_at=now)
    if with_ids or failed:
        Message.objects.bulk_update(
            [*with_ids, *failed], ["status", "reason", "provider_id", "sent_at"], batch_size=500
        )
    Send.objects.filter(pk=send.pk).update(
        sent=F("sent") + len(sent), failed=F("failed") + len(failed), updated_at=now
    )
    if send.is_test:
        return
    touches = []
    for message in sent:
        member = message.member
        if member is None:
            continue
        lead = member.lead if member.lead_id else None
        touches.append(
            Touch(
                campaign_id=send.campaign_id,
                kind=TouchKind.MESSAGE,
                at=now,
                contact_id=member.contact_id,
                lead_id=member.lead_id,
                customer_id=member.customer_id
                or (member.contact.customer_id if member.contact is not None else None)
                or (lead.customer_id if lead is not None else None),
                detail=f"{send.get_channel_display()}: {send.template.name}"[:300],
            )
        )
    if touches:
        record_many(touches)
