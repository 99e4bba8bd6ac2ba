"""The channel back-end interface every outreach channel implements.

A send hands a back-end batches of ``Outgoing`` messages; the back-end answers one
``Outcome`` per message, in order, and never raises for one recipient's failure: a refused
number or a bounced address is that message's ``error``. It raises ``ChannelUnavailable``
only when nothing of the batch could be tried (the provider is down, the credentials are
wrong), so the send can stop and report it instead of failing every recipient.

Back-ends are registered by name (``register``); ``settings.md`` documents their settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class ChannelUnavailable(Exception):
    """The channel could not take the batch at all (configuration, network, provider)."""


@dataclass(frozen=True)
class Outgoing:
    """One rendered message for one recipient."""

    address: str  # e-mail address, mobile number or WeCom external user id
    subject: str
    text: str
    # SMS providers send approved templates: their id and the merge values in order
    provider_template: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # e-mail: List-Unsubscribe


@dataclass(frozen=True)
class Outcome:
    provider_id: str = ""  # the provider's message or request id
    error: str = ""  # empty: accepted

    @property
    def ok(self) -> bool:
        return not self.error


class ChannelBackend(Protocol):
    """Sends a batch over one channel; one ``Outcome`` per message, in order."""

    name: str

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Outcome]: ...


BackendFactory = Callable[[], ChannelBackend]

_backends: dict[str, BackendFactory] = {}


def register(name: str, factory: BackendFactory) -> None:
    """Make a back-end available under ``name`` (e.g. "smtp", "aliyun_sms", "tencent_sms")."""
    _backends[name] = factory


def backend(name: str) -> ChannelBackend:
    try:
        factory = _backends[name]
    except KeyError as missing:
        raise ChannelUnavailable(f"no channel back-end named {name!r}") from missing
    return factory()


def names() -> list[str]:
    return sorted(_backends)
