"""What the SMS and WeCom back-ends share: the choice of back-end, the HTTP client, the
secrets read from the environment, mobile numbers, and the rule of when a batch fails whole.

The rule (``base``'s contract): a back-end raises ``ChannelUnavailable`` only while nothing of
the batch has been answered by the provider. Once one call of the batch came back with
per-message answers, a later failure of the whole provider (down, throttled, credentials
revoked) becomes that error on every message not yet sent, so the send keeps the outcomes of
the messages that did go out and never sends them twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import httpx
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import config
from kehu.core.contact_points import phone_e164

from .base import ChannelUnavailable, Outcome

SMS_BACKEND = config.define(
    "campaigns.sms_backend",
    "aliyun_sms",
    gettext_lazy("SMS provider"),
    group="campaigns",
    choices=(
        ("aliyun_sms", gettext_lazy("Aliyun SMS (阿里云短信)")),
        ("tencent_sms", gettext_lazy("Tencent Cloud SMS (腾讯云短信)")),
    ),
    help=gettext_lazy(
        "Which provider campaign text messages go through. Its keys come from environment "
        "variables (docs/channels.md), never from this page."
    ),
)
WECOM_BACKEND = config.define(
    "campaigns.wecom_backend",
    "wecom",
    gettext_lazy("WeCom back-end"),
    group="campaigns",
    choices=(("wecom", gettext_lazy("WeCom customer group messages (企业群发)")),),
    help=gettext_lazy(
        "How campaign messages reach customers on WeCom: a group-send task per message "
        "text that the sending member confirms in the WeCom client."
    ),
)
TIMEOUT = config.define(
    "campaigns.channel_timeout",
    10,
    gettext_lazy("Provider request timeout"),
    group="campaigns",
    unit=config.SECONDS,
    minimum=1,
    maximum=120,
    help=gettext_lazy(
        "How long one request to the SMS or WeCom provider may take before the batch is "
        "given up as unavailable."
    ),
)


def secret(variable: str) -> str:
    """The value of an environment variable holding a key; ChannelUnavailable when unset."""
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ChannelUnavailable(
            _("The environment variable %(name)s is not set on the server.") % {"name": variable}
        )
    return value


def setting(spec: config.SettingSpec) -> str:
    """A text setting the back-end cannot work without; ChannelUnavailable when empty."""
    value = str(config.get(spec.key) or "").strip()
    if not value:
        raise ChannelUnavailable(
            _("The setting “%(label)s” is empty.") % {"label": str(spec.label)}
        )
    return value


def client() -> httpx.Client:
    """One client per batch: its connection is reused by every call of the batch."""
    return httpx.Client(timeout=float(config.get(TIMEOUT.key)), follow_redirects=False)


def mobile_e164(address: str) -> str | None:
    """The number in E.164 (+8613812345678), or None when it is not a phone number."""
    return phone_e164(address)


def is_mainland(e164: str) -> bool:
    return e164.startswith("+86")


# What Message keeps of an outcome (its provider_id and reason columns).
MAX_PROVIDER_ID = 100
MAX_ERROR = 500


def fit(outcome: Outcome) -> Outcome:
    """The outcome cut to what a Message row stores (a provider's message can run long)."""
    if len(outcome.provider_id) <= MAX_PROVIDER_ID and len(outcome.error) <= MAX_ERROR:
        return outcome
    error = (
        outcome.error if len(outcome.error) <= MAX_ERROR else outcome.error[: MAX_ERROR - 1] + "…"
    )
    return Outcome(provider_id=outcome.provider_id[:MAX_PROVIDER_ID], error=error)


@dataclass
class BatchOutcomes:
    """The outcomes of a batch as they come in, and whether the provider answered yet."""

    size: int
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    answered: bool = False  # some call came back with per-message answers
    stopped: str = ""  # the provider failed as a whole after answering: why

    def set(self, index: int, outcome: Outcome) -> None:
        self.outcomes[index] = fit(outcome)

    def answer(self, index: int, outcome: Outcome) -> None:
        self.answered = True
        self.outcomes[index] = fit(outcome)

    def unavailable(self, indexes: list[int], reason: str) -> None:
        """The provider failed as a whole for ``indexes``: raise while nothing was answered,
        else those messages get the reason as their error."""
        if not self.answered:
            raise ChannelUnavailable(reason)
        self.stopped = reason
        for index in indexes:
            self.outcomes[index] = fit(Outcome(error=reason))

    def pending(self, indexes: list[int]) -> list[int]:
        return [index for index in indexes if index not in self.outcomes]

    def result(self) -> list[Outcome]:
        rest = fit(Outcome(error=self.stopped or _("Not sent.")))
        return [self.outcomes.get(index, rest) for index in range(self.size)]


def http_failure(error: httpx.HTTPError) -> str:
    return _("The provider could not be reached: %(error)s") % {
        "error": str(error) or error.__class__.__name__
    }
