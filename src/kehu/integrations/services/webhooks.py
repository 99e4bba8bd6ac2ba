"""Outbound webhooks: subscriptions, the fan-out of committed events, signed deliveries with
retries, the delivery log, redelivery and automatic disabling (docs/integration.md, "Webhooks").

Nothing here runs in the request that wrote: ``kehu.core.events`` tells the tasks module after
the commit, which queues ``fanout``; each delivery is then one job (``delivery_attempt``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Role, User
from kehu.core import audit, config, events, links, outbound
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.services import bump_version, check_version
from kehu.integrations.models import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
    new_webhook_secret,
)
from kehu.integrations.services.webhook_payloads import kind_of, records_as_seen

GROUP = "integrations"
ALLOW_INTERNAL = config.define(
    "integrations.allow_internal_receivers",
    False,
    gettext_lazy("Allow webhook receivers on local or private addresses"),
    group=GROUP,
    help=gettext_lazy(
        "Off: a webhook URL that resolves to a loopback, private or link-local address is "
        "refused (it would let Kehu reach services on its own network). Turn on only when the "
        "receiving system runs on the company's internal network."
    ),
)
TIMEOUT = config.define(
    "integrations.webhook_timeout_seconds",
    5,
    gettext_lazy("Webhook receiver timeout in seconds"),
    group=GROUP,
    unit=config.SECONDS,
    minimum=1,
    maximum=30,
    help=gettext_lazy("A receiver that has not answered within this time counts as a failure."),
)
MAX_ATTEMPTS = config.define(
    "integrations.webhook_max_attempts",
    6,
    gettext_lazy("Webhook delivery attempts before a delivery fails"),
    group=GROUP,
    unit=config.TIMES,
    minimum=1,
    maximum=15,
    help=gettext_lazy(
        "A delivery the receiver keeps refusing (not 2xx, timeout, connection error) is tried "
        "this many times in all, then shown as failed; it can be sent again by hand."
    ),
)
RETRY_BASE = config.define(
    "integrations.webhook_retry_base_seconds",
    30,
    gettext_lazy("First retry delay of a webhook delivery in seconds (doubles each time)"),
    group=GROUP,
    unit=config.SECONDS,
    minimum=1,
    maximum=3600,
    help=gettext_lazy(
        "Wait before the first retry of a failed delivery; each further retry waits twice as "
        "long (30 s, 1 min, 2 min, 4 min…)."
    ),
)
DISABLE_AFTER = config.define(
    "integrations.webhook_disable_after_failures",
    20,
    gettext_lazy("Consecutive failed webhook attempts before the webhook is disabled"),
    group=GROUP,
    unit=config.TIMES,
    minimum=2,
    maximum=1000,
    help=gettext_lazy(
        "A webhook whose receiver failed this many attempts in a row (no success between) is "
        "switched off and the administrators get an e-mail; turning it on again resets the count."
    ),
)

SIGNATURE_HEADER = "X-Kehu-Signature"
TIMESTAMP_HEADER = "X-Kehu-Timestamp"
EVENT_HEADER = "X-Kehu-Event"
EVENT_ID_HEADER = "X-Kehu-Event-Id"
DELIVERY_HEADER = "X-Kehu-Delivery"
MAX_NAME = 100
MAX_URL = 500


# --- Subscriptions ----------------------------------------------------------------------------

ACTIVE_KEY = "kehu:webhooks:any-active"


def any_active() -> bool:
    """Is any webhook on? Cached for a minute (and forgotten at every change of a webhook):
    ``kehu.core.events`` asks it at each emit, so that a Kehu without webhooks pays nothing."""
    cached = cache.get(ACTIVE_KEY)
    if cached is None:
        cached = WebhookSubscription.objects.filter(is_active=True).exists()
        cache.set(ACTIVE_KEY, cached, 60)
    return bool(cached)


def _forget_active() -> None:
    cache.delete(ACTIVE_KEY)
    transaction.on_commit(lambda: cache.delete(ACTIVE_KEY))


def webhooks_may_manage(user: User) -> bool:
    return is_admin(user)


def _require_admin(actor: User) -> None:
    if not webhooks_may_manage(actor):
        raise Forbidden(_("Only administrators manage webhooks."))


def allow_internal() -> bool:
    return bool(config.get(ALLOW_INTERNAL.key))


def _clean(data: dict[str, Any], current: WebhookSubscription | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if "name" in data or current is None:
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = [_("Give the webhook a name.")]
        elif len(name) > MAX_NAME:
            errors["name"] = [_("Keep the name under 100 characters.")]
        cleaned["name"] = name
    if "url" in data or current is None:
        url = str(data.get("url") or "").strip()
        if len(url) > MAX_URL:
            errors["url"] = [_("Keep the URL under 500 characters.")]
        else:
            try:
                outbound.validate_url(url, allow_internal=allow_internal())
            except outbound.OutboundRefused as error:
                errors["url"] = [str(error)]
        cleaned["url"] = url
    if "events" in data or current is None:
        raw = data.get("events")
        names = [str(name) for name in raw] if isinstance(raw, list | tuple) else None
        if not names:
            errors["events"] = [_("Choose at least one event.")]
        else:
            unknown = sorted(set(names) - set(events.NAMES))
            if unknown:
                errors["events"] = [_("Unknown event: %(names)s.") % {"names": ", ".join(unknown)}]
            cleaned["events"] = [name for name in events.NAMES if name in set(names)]
    if "run_as" in data or current is None:
        run_as = data.get("run_as")
        user_id = run_as.pk if isinstance(run_as, User) else run_as
        user = None
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            errors["run_as"] = [_("Choose an active user whose view the payloads follow.")]
        cleaned["run_as"] = user
    if "secret" in data and data["secret"] not in (None, ""):
        secret = str(data["secret"])
        if not 16 <= len(secret) <= 200:
            errors["secret"] = [_("The secret must be 16 to 200 characters long.")]
        cleaned["secret"] = secret
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            errors["is_active"] = [_("Give true or false.")]
        cleaned["is_active"] = data["is_active"]
    unknown_fields = set(data) - {"name", "url", "events", "run_as", "secret", "is_active"}
    for name in sorted(unknown_fields):
        errors[name] = [_("Unknown field.")]
    if errors:
        raise InvalidInput(errors=errors)
    return cleaned


@audit.audited("integrations.webhook_created")
@transaction.atomic
def webhook_create(*, actor: User, data: dict[str, Any]) -> WebhookSubscription:
    """Subscribe a receiver URL to events (admins); a secret is generated unless given."""
    _require_admin(actor)
    cleaned = _clean(data, None)
    cleaned.setdefault("secret", new_webhook_secret())
    _forget_active()
    return WebhookSubscription.objects.create(created_by=actor, **cleaned)


@audit.audited("integrations.webhook_changed", target="webhook")
@transaction.atomic
def webhook_update(
    *,
    actor: User,
    webhook: WebhookSubscription,
    data: dict[str, Any],
    version: int | None = None,
) -> WebhookSubscription:
    """Change a subscription; switching it on again resets its failure count."""
    _require_admin(actor)
    locked = WebhookSubscription.objects.select_for_update().filter(pk=webhook.pk).first()
    if locked is None:
        raise NotFound("webhook")
    check_version(locked, version)
    cleaned = _clean(data, locked)
    turned_on = cleaned.get("is_active") is True and not locked.is_active
    for name, value in cleaned.items():
        setattr(locked, name, value)
    if turned_on:
        locked.consecutive_failures = 0
        locked.disabled_at = None
        locked.disabled_reason = ""
    bump_version(locked)
    locked.save()
    _forget_active()
    return locked


@audit.audited("integrations.webhooksubscription_deleted", target="webhook")
@transaction.atomic
def webhook_delete(*, actor: User, webhook: WebhookSubscription) -> None:
    _require_admin(actor)
    webhook.delete()
    _forget_active()


def webhook_get(*, user: User, webhook_id: int) -> WebhookSubscription:
    _require_admin(user)
    found = WebhookSubscription.objects.select_related("run_as").filter(pk=webhook_id).first()
    if found is None:
        raise NotFound("webhook")
    return found


def delivery_get(*, user: User, delivery_id: int) -> WebhookDelivery:
    _require_admin(user)
    found = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if found is None:
        raise NotFound("delivery")
    return found


# --- Fan-out ----------------------------------------------------------------------------------


def _body(event: events.Event, record: dict[str, Any]) -> str:
    envelope = {
        "id": event.id,
        "event": event.name,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "object": {"type": kind_of(event.name), "id": event.instance_id},
        "changes": event.data,
        "data": record,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def fanout(committed: Sequence[events.Event]) -> list[int]:
    """One delivery per active subscription and event it wants whose record its ``run_as``
    sees; returns the new deliveries' ids. Queries: one for the subscriptions, one read per
    subscription and kind of record, one insert."""
    subscriptions = list(
        WebhookSubscription.objects.filter(is_active=True, run_as__is_active=True)
        .select_related("run_as")
        .order_by("id")
    )
    rows: list[WebhookDelivery] = []
    for subscription in subscriptions:
        wanted = [event for event in committed if event.name in set(subscription.events)]
        if not wanted:
            continue
        ids: dict[str, set[int]] = defaultdict(set)
        for event in wanted:
            ids[kind_of(event.name)].add(event.instance_id)
        seen = {
            kind: records_as_seen(subscription.run_as, kind, kind_ids)
            for kind, kind_ids in ids.items()
        }
        for event in wanted:
            record = seen[kind_of(event.name)].get(event.instance_id)
            if record is None:  # outside run_as's scope, or gone since
                continue
            rows.append(
                WebhookDelivery(
                    subscription=subscription,
                    event_id=event.id,
                    event=event.name,
                    instance_id=event.instance_id,
                    body=_body(event, record),
                )
            )
    created = WebhookDelivery.objects.bulk_create(rows)
    return [row.pk for row in created]


# --- Delivery ---------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``timestamp.body`` under the subscription's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(delivery: WebhookDelivery, body: bytes, *, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Kehu-Webhooks/1",
        EVENT_HEADER: delivery.event,
        EVENT_ID_HEADER: delivery.event_id,
        DELIVERY_HEADER: str(delivery.pk),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(delivery.subscription.secret, timestamp, body),
    }


def _send(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """(response code, error); an empty error is a success."""
    body = delivery.body.encode()
    timeout = float(config.get(TIMEOUT.key))
    try:
        response = outbound.post_bytes(
            delivery.subscription.url,
            body,
            headers=signed_headers(delivery, body, now=time.time()),
            timeout=timeout,
            allow_internal=allow_internal(),
        )
    except outbound.OutboundRefused as error:
        return None, str(error)
    except httpx.TimeoutException:
        return None, _("The receiver did not answer within %(seconds)s s.") % {
            "seconds": f"{timeout:g}"
        }
    except httpx.HTTPError as error:
        return None, (str(error) or type(error).__name__)[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, _("The receiver answered %(code)s.") % {
        "code": response.status_code
    }


FINISHED = (
    WebhookDeliveryStatus.DELIVERED,
    WebhookDeliveryStatus.FAILED,
    WebhookDeliveryStatus.CANCELLED,
)
ATTEMPT_FIELDS = [
    "status",
    "attempts",
    "response_code",
    "duration_ms",
    "error",
    "last_attempt_at",
    "next_attempt_at",
    "delivered_at",
    "updated_at",
]
BATCH = 100  # deliveries per job: one read, one write of their log rows, kept connections


def delivery_attempt(*, delivery_id: int) -> float | None:
    """Try one delivery once. None when it is finished (delivered, failed, cancelled), else
    the seconds to wait before the next attempt (exponential backoff)."""
    return deliver_batch([delivery_id]).get(delivery_id)


def deliver_batch(delivery_ids: Sequence[int]) -> dict[int, float]:
    """Try each of the deliveries once, in order (a job's ``BATCH``: the fan-out of a
    transaction's events, split). Answers the seconds to wait per delivery to be retried
    (exponential backoff); the others are finished.

    Two queries for the batch when all goes well (the deliveries with their subscriptions;
    the log rows' update), whatever its size; the requests reuse the outbound pool's kept
    connections (``core.outbound``). A failure counts against its webhook at once, so the
    webhook is switched off mid-batch at the limit and its remaining deliveries cancelled."""
    rows = {
        row.pk: row
        for row in WebhookDelivery.objects.select_related("subscription").filter(
            pk__in=list(delivery_ids)
        )
    }
    waits: dict[int, float] = {}
    done: list[WebhookDelivery] = []
    switched_off: set[int] = set()
    succeeded: set[int] = set()
    max_attempts = int(config.get(MAX_ATTEMPTS.key))
    retry_base = float(config.get(RETRY_BASE.key))
    try:
        for delivery_id in delivery_ids:
            delivery = rows.get(delivery_id)
            if delivery is None or delivery.status in FINISHED:
                continue
            subscription = delivery.subscription
            if not subscription.is_active or subscription.pk in switched_off:
                delivery.status = WebhookDeliveryStatus.CANCELLED
                delivery.error = _("The webhook was switched off before this delivery was sent.")
                delivery.updated_at = timezone.now()
                done.append(delivery)
                continue
            started = time.monotonic()
            code, error = _send(delivery)
            now = timezone.now()
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.updated_at = now
            delivery.duration_ms = int((time.monotonic() - started) * 1000)
            delivery.response_code = code
            delivery.error = error[:500]
            done.append(delivery)
            if not error:
                delivery.status = WebhookDeliveryStatus.DELIVERED
                delivery.delivered_at = now
                delivery.next_attempt_at = None
                succeeded.add(subscription.pk)
                continue
            succeeded.discard(subscription.pk)
            disabled = _count_failure(subscription)
            if disabled:
                switched_off.add(subscription.pk)
            if disabled or delivery.attempts >= max_attempts:
                delivery.status = WebhookDeliveryStatus.FAILED
                delivery.next_attempt_at = None
                continue
            wait = retry_base * 2 ** (delivery.attempts - 1)
            delivery.status = WebhookDeliveryStatus.RETRYING
            delivery.next_attempt_at = now + timedelta(seconds=wait)
            waits[delivery.pk] = wait
    finally:  # what was sent is logged, even when a later send raised
        WebhookDelivery.objects.bulk_update(done, ATTEMPT_FIELDS)
        if succeeded:
            WebhookSubscription.objects.filter(pk__in=succeeded, consecutive_failures__gt=0).update(
                consecutive_failures=0
            )
    return waits


def _count_failure(subscription: WebhookSubscription) -> bool:
    """Count one failed attempt; switch the webhook off (and tell the admins) at the limit.
    True when the webhook is now off."""
    limit = int(config.get(DISABLE_AFTER.key))
    with transaction.atomic():
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        if not locked.is_active:
            return True
        if locked.consecutive_failures < limit:
            return False
        locked.is_active = False
        locked.disabled_at = timezone.now()
        locked.disabled_reason = _("%(count)d failed attempts in a row.") % {
            "count": locked.consecutive_failures
        }
        bump_version(locked)
        locked.save()
        _forget_active()
        transaction.on_commit(lambda: _tell_admins_disabled(locked))
    return True


def _tell_admins_disabled(webhook: WebhookSubscription) -> int:
    recipients = sorted(
        {
            user.email
            for user in User.objects.filter(role=Role.ADMIN, is_active=True).exclude(email="")
        }
    )
    if not recipients:
        return 0
    subject = _("Kehu: webhook %(name)s was switched off") % {"name": webhook.name}
    text = _(
        "The webhook %(name)s (%(url)s) failed %(count)d attempts in a row and was switched "
        "off. Deliveries stop until it is switched on again.\n\nDelivery log: %(link)s"
    ) % {
        "name": webhook.name,
        "url": webhook.url,
        "count": webhook.consecutive_failures,
        "link": links.absolute(reverse("integrations:webhook", args=[webhook.pk])),
    }
    return send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, recipients)


@audit.audited("integrations.webhook_redelivered", target="delivery")
@transaction.atomic
def delivery_redeliver(*, actor: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a logged delivery again (admins): a new log row with the same event id and body,
    queued after the commit."""
    _require_admin(actor)
    if not delivery.subscription.is_active:
        raise InvalidInput(
            _("Switch the webhook on before sending deliveries again."), code="webhook_inactive"
        )
    again = WebhookDelivery.objects.create(
        subscription=delivery.subscription,
        event_id=delivery.event_id,
        event=delivery.event,
        instance_id=delivery.instance_id,
        body=delivery.body,
        redelivery_of=delivery,
    )
    transaction.on_commit(lambda: queue_delivery(again.pk))
    return again


_queue: list[Callable[[int], object]] = []


def set_delivery_queue(enqueue: Callable[[int], object]) -> None:
    """The tasks module's ``webhook_deliver`` (registered from ``AppConfig.ready``)."""
    _queue[:] = [enqueue]


def queue_delivery(delivery_id: int) -> None:
    for enqueue in _queue:
        enqueue(delivery_id)
