"""Writes of the notifications app: in-app notifications, channels and deliveries.

``notify`` is the one entry point other apps call. It stores the in-app copy first (so nothing
is lost whatever happens to email or webhooks), then, once the transaction commits, creates a
``Delivery`` per active immediate channel of each recipient and queues a Huey job per delivery.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, config, links
from kehu.core.access import is_admin
from kehu.core.days import day_start
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.notifications import channels
from kehu.notifications.models import (
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Notification,
)
from kehu.notifications.selectors import channel_get, notification_get

if TYPE_CHECKING:
    from kehu.accounts.models import User

from django.utils.translation import gettext_lazy

MAX_ATTEMPTS = config.define(
    "notifications.max_attempts",
    5,
    gettext_lazy("Delivery attempts before a message fails"),
    unit=config.TIMES,
    minimum=1,
    maximum=20,
    help=gettext_lazy(
        "An e-mail or robot message that keeps failing is given up after this many attempts and "
        "shown as failed."
    ),
)
RETRY_BASE_SECONDS = config.define(
    "notifications.retry_base_seconds",
    30,
    gettext_lazy("First retry delay of a failed delivery in seconds (doubles each time)"),
    unit=config.SECONDS,
    minimum=5,
    maximum=3600,
    help=gettext_lazy(
        "Wait before the first retry of a failed delivery; each further retry waits twice as long."
    ),
)
DIGEST_HOUR = config.define(
    "notifications.digest_hour",
    8,
    gettext_lazy("Hour of the day the daily digest is sent"),
    unit=config.HOUR_OF_DAY,
    minimum=0,
    maximum=23,
    help=gettext_lazy("Users who chose the daily digest get it at this hour (local time)."),
)


def notify(
    *,
    recipients: Iterable[User],
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    actor: User | None = None,
    dedupe_key: str = "",
) -> int:
    """Create one in-app notification per active recipient; return how many were created.

    With a ``dedupe_key`` a recipient gets the notification at most once (a unique constraint
    backs the check, so concurrent jobs cannot double it). Channel delivery is scheduled after
    the surrounding transaction commits.
    """
    created: list[int] = []
    seen: set[int] = set()
    for recipient in recipients:
        if recipient is None or not recipient.is_active or recipient.pk in seen:
            continue
        seen.add(recipient.pk)
        if (
            dedupe_key
            and Notification.objects.filter(recipient=recipient, dedupe_key=dedupe_key).exists()
        ):
            continue
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    recipient=recipient,
                    kind=kind[:50],
                    title=title[:200],
                    body=body,
                    url=url,
                    actor=actor,
                    dedupe_key=dedupe_key,
                )
        except IntegrityError:  # a concurrent run created it first
            continue
        created.append(notification.pk)
    if created:
        transaction.on_commit(lambda: deliveries_schedule(notification_ids=created))
    return len(created)


def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    notification = notification_get(user=user, notification_id=notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


# --- Channels -------------------------------------------------------------------------------


def _clean_channel(
    kind: str, target: str, secret: str
) -> tuple[str, str, str]:  # returns cleaned values
    errors: dict[str, list[str]] = {}
    if kind not in ChannelKind.values:
        errors["kind"] = [_("Choose email, WeCom, DingTalk or Feishu.")]
    target = (target or "").strip()
    secret = (secret or "").strip()
    if kind == ChannelKind.EMAIL:
        if target:
            from django.core.exceptions import ValidationError
            from django.core.validators import validate_email

            try:
                validate_email(target)
            except ValidationError:
                errors["target"] = [_("Enter a valid email address.")]
    elif kind in ChannelKind.values:
        if not target:
            errors["target"] = [_("Enter the robot's webhook URL.")]
        elif not channels.is_web_url(target):
            errors["target"] = [_("The webhook URL must start with http:// or https://.")]
        elif problem := channels.webhook_problem(target):
            errors["target"] = [problem]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    return kind, target, secret


@audit.audited("notifications.channel_created")
@transaction.atomic
def channel_create(
    *, actor: User, kind: str, target: str = "", secret: str = "", digest: bool = False
) -> Channel:
    kind, target, secret = _clean_channel(kind, target, secret)
    return Channel.objects.create(
        user=actor, kind=kind, target=target, secret=secret, digest=digest
    )


@audit.audited("notifications.channel_deleted", target="channel_id", model="notifications.channel")
@transaction.atomic
def channel_delete(*, actor: User, channel_id: int) -> None:
    channel_get(user=actor, channel_id=channel_id).delete()


# --- Delivery -------------------------------------------------------------------------------


def _message_text(notification: Notification) -> str:
    lines = [notification.body] if notification.body else []
    if notification.url:
        lines.append(links.absolute(notification.url))
    return "\n".join(lines) or notification.title


def deliveries_schedule(*, notification_ids: list[int]) -> list[int]:
    """Create the deliveries of freshly created notifications and queue one job per delivery."""
    notifications = list(Notification.objects.filter(pk__in=notification_ids))
    recipient_ids = {n.recipient_id for n in notifications}
    by_user: dict[int, list[Channel]] = {}
    for channel in Channel.objects.filter(user_id__in=recipient_ids, is_active=True, digest=False):
        by_user.setdefault(channel.user_id, []).append(channel)
    delivery_ids: list[int] = []
    for notification in notifications:
        for channel in by_user.get(notification.recipient_id, []):
            delivery, created = Delivery.objects.get_or_create(
                dedupe_key=f"n{notification.pk}:c{channel.pk}",
                defaults={
                    "channel": channel,
                    "notification": notification,
                    "subject": notification.title,
                    "text": _message_text(notification),
                },
            )
            if created:
                delivery_ids.append(delivery.pk)
    _enqueue(delivery_ids)
    return delivery_ids


def _enqueue(delivery_ids: list[int]) -> None:
    # tasks imports this module at its top for the job bodies; importing it here breaks the cycle.
    from kehu.notifications.tasks import deliver

    for delivery_id in delivery_ids:
        deliver(delivery_id)


def _send(channel: Channel, subject: str, text: str) -> None:
    if channel.kind == ChannelKind.EMAIL:
        channels.send_email(to=channel.target or channel.user.email, subject=subject, text=text)
    elif channel.kind == ChannelKind.WECOM:
        channels.send_wecom(url=channel.target, subject=subject, text=text)
    elif channel.kind == ChannelKind.DINGTALK:
        channels.send_dingtalk(
            url=channel.target, secret=channel.secret, subject=subject, text=text
        )
    elif channel.kind == ChannelKind.FEISHU:
        channels.send_feishu(url=channel.target, secret=channel.secret, subject=subject, text=text)
    else:
        raise channels.DeliveryError(f"unknown channel {channel.kind}")


def delivery_attempt(*, delivery_id: int) -> float | None:
    """Try to send one delivery once.

    Returns None when the delivery is finished (sent, failed for good, or already done),
    or the number of seconds to wait before the next attempt.
    """
    delivery = Delivery.objects.select_related("channel__user").filter(pk=delivery_id).first()
    if delivery is None or delivery.status in {DeliveryStatus.SENT, DeliveryStatus.FAILED}:
        return None
    delivery.attempts += 1
    try:
        _send(delivery.channel, delivery.subject, delivery.text)
    except channels.DeliveryError as error:
        delivery.last_error = str(error)[:2000]
        if delivery.attempts >= int(config.get(MAX_ATTEMPTS.key)):
            delivery.status = DeliveryStatus.FAILED
            delivery.save(update_fields=["attempts", "last_error", "status"])
            return None
        delivery.status = DeliveryStatus.RETRYING
        delivery.save(update_fields=["attempts", "last_error", "status"])
        return float(config.get(RETRY_BASE_SECONDS.key)) * 2 ** (delivery.attempts - 1)
    delivery.status = DeliveryStatus.SENT
    delivery.sent_at = timezone.now()
    delivery.save(update_fields=["attempts", "last_error", "status", "sent_at"])
    return None


@transaction.atomic
def delivery_retry(*, actor: User, delivery_id: int) -> Delivery:
    """An admin sends a failed delivery again."""
    if not is_admin(actor):
        raise Forbidden()
    delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound("delivery")
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.save(update_fields=["status", "attempts"])
    transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


def digests_send(*, now: datetime | None = None) -> int:
    """Send yesterday's notifications as one digest per digest channel; idempotent per day."""
    now = timezone.localtime(now or timezone.now())
    day = (now - timedelta(days=1)).date()
    start = day_start(day)
    end = start + timedelta(days=1)
    digest_channels = list(
        Channel.objects.filter(is_active=True, digest=True, user__is_active=True).select_related(
            "user"
        )
    )
    if not digest_channels:
        return 0
    user_ids = {channel.user_id for channel in digest_channels}
    grouped: dict[int, list[Notification]] = {}
    for notification in Notification.objects.filter(
        recipient_id__in=user_ids, created_at__gte=start, created_at__lt=end
    ).order_by("created_at", "id"):
        grouped.setdefault(notification.recipient_id, []).append(notification)
    created: list[int] = []
    for channel in digest_channels:
        items = grouped.get(channel.user_id)
        if not items:
            continue
        subject = _("Kehu daily digest for %(day)s: %(count)d notifications") % {
            "day": day.isoformat(),
            "count": len(items),
        }
        text = "\n".join(
            f"- {item.title}" + (f" {links.absolute(item.url)}" if item.url else "")
            for item in items
        )
        delivery, was_created = Delivery.objects.get_or_create(
            dedupe_key=f"digest:{day.isoformat()}:c{channel.pk}",
            defaults={"channel": channel, "subject": subject, "text": text},
        )
        if was_created:
            created.append(delivery.pk)
    transaction.on_commit(lambda: _enqueue(created))
    return len(created)
